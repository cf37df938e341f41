import type { Installation, InstallationRequest, SimState, User } from './state.js'

// Installing or changing an installation, from the install page or an approved request, and
// the webhook events GitHub sends for it.

function coveredIds(state: SimState, installation: Installation): Set<number> {
  return new Set(state.installationRepos(installation).map((repo) => repo.id))
}

export interface Installed {
  installation: Installation
  action: 'install' | 'update'
}

export function installWithEvents(
  state: SimState,
  accountId: number,
  selection: 'all' | 'selected',
  repositoryIds: number[],
  sender: User,
  requester?: User,
): Installed {
  const existing = state.installationOn(accountId)
  const before = existing && { selection: existing.repositorySelection, ids: coveredIds(state, existing) }
  const result = state.install(accountId, selection, repositoryIds)
  const { installation } = result
  if (before === undefined) {
    state.onEvent({ name: 'installation', action: 'created', installation, sender, requester })
    return result
  }
  const after = coveredIds(state, installation)
  const added = [...after].filter((id) => !before.ids.has(id)).map((id) => state.repos.get(id)!)
  const removed = [...before.ids].filter((id) => !after.has(id)).map((id) => state.repos.get(id)!)
  // GitHub reports additions and removals as separate events; a change of selection that
  // adds nothing (e.g. to "all" on an account whose repos were all selected) is still an
  // `added`, so the app sees the new selection.
  if (added.length > 0 || (removed.length === 0 && before.selection !== selection)) {
    state.onEvent({ name: 'installation_repositories', action: 'added', installation, added, removed: [], sender, requester })
  }
  if (removed.length > 0) {
    state.onEvent({ name: 'installation_repositories', action: 'removed', installation, added: [], removed, sender, requester })
  }
  return result
}

/**
 * An owner approves a pending installation request, from the org's settings page or the test
 * controls: the app is installed with the requester named in the events, and the request is
 * gone. A request adds to what is installed; it never takes repositories away.
 */
export function approveRequest(state: SimState, pending: InstallationRequest, approver: User): Installed {
  const existing = state.installationOn(pending.accountId)
  let selection = pending.repositorySelection
  let ids = pending.repositoryIds
  if (existing?.repositorySelection === 'all') selection = 'all'
  else if (existing !== undefined && selection === 'selected') ids = [...new Set([...existing.repositoryIds, ...ids])]
  const requester = state.users.get(pending.requesterId)!
  const installed = installWithEvents(state, pending.accountId, selection, ids, approver, requester)
  state.requests.delete(pending.id)
  return installed
}
