import type { Installation, Org, Repo, SimState, User } from '../state.js'
import { text, texts, type Fields } from './form.js'

// What the installation pages work out from their parameters: which account the app goes on,
// what the signed-in user may do there, and which of its repositories were preselected.

/** GitHub refuses a link that preselects more repositories than this. */
export const MAX_REPOSITORY_IDS = 100

export type Relation = 'owner' | 'member'

export interface Target {
  account: User | Org
  /** An owner installs; an organization member who is not an owner can only request. */
  relation: Relation
  /** The account's repositories the user can see, by name. */
  repos: Repo[]
  installation: Installation | undefined
}

/** The accounts a user can install on (their own, orgs they own) or request for (other orgs). */
export function targetsOf(state: SimState, user: User): Target[] {
  return [user, ...state.orgsOf(user.id)].map((account) => target(state, user, account)!)
}

export function target(state: SimState, user: User, account: User | Org | undefined): Target | undefined {
  if (account === undefined) return undefined
  const relation: Relation | undefined = state.isAccountOwner(user.id, account.id)
    ? 'owner'
    : state.orgRole(user.id, account.id) === 'member'
      ? 'member'
      : undefined
  if (relation === undefined) return undefined
  const repos = state
    .reposOf(account.id)
    .filter((repo) => state.canSee(user.id, repo))
    .sort((a, b) => a.name.localeCompare(b.name))
  return { account, relation, repos, installation: state.installationOn(account.id) }
}

export function targetFrom(state: SimState, user: User, params: Fields): Target | undefined {
  const id = Number(text(params, 'suggested_target_id') ?? text(params, 'target_id'))
  return Number.isInteger(id) ? target(state, user, state.accountById(id)) : undefined
}

/**
 * The repository ids a link or form names (`repository_ids[]`, as GitHub documents, or
 * `repository_ids`), or 'too-many' past GitHub's limit. Ids that are not the target's visible
 * repositories are dropped, as GitHub ignores them.
 */
export function selectedIds(params: Fields, target: Target): { given: boolean; ids: number[] } | 'too-many' {
  const raw = texts(params, 'repository_ids[]', 'repository_ids')
  if (raw.length > MAX_REPOSITORY_IDS) return 'too-many'
  const wanted = new Set(raw.map(Number))
  return { given: raw.length > 0, ids: target.repos.filter((repo) => wanted.has(repo.id)).map((repo) => repo.id) }
}
