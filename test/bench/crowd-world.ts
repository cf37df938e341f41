import type { World } from '../../src/simulator/world.js'
import { BENCH_APP, LEGACY_HOOK_URL } from './simulator-world.js'

// Many vendor users at once, shaped like an org-heavy install base: every user has a few
// repositories of their own and enabled a few in one organization, which they share with the
// other vendor users of that organization (its first member is an owner). Every enabled
// repository carries the legacy hook and the legacy record of it; some also a hook of another
// integration, which no migration may touch.

export interface CrowdSize {
  users: number
  orgs: number
  personalRepos: number
  orgReposPerUser: number
  /** Every this many repositories, one also carries a hook of another integration (none by default). */
  foreignHookEvery?: number
}

/** Where the other integration's hooks deliver. */
export const FOREIGN_HOOK_URL = 'https://other-ci.example.net/hooks'

const LEGACY_CLIENT_ID = 'legacy-oauth-client'
const pad = (n: number, width: number): string => String(n).padStart(width, '0')

export function crowdWorld(size: CrowdSize = { users: 200, orgs: 10, personalRepos: 3, orgReposPerUser: 2 }): World {
  const users: World['users'] = []
  const orgs: NonNullable<World['orgs']> = []
  const repos: World['repos'] = []
  const registrations: NonNullable<World['legacy_registrations']> = []
  for (let o = 1; o <= size.orgs; o++) orgs.push({ id: 1_000_000 + o, login: `crowd-org-${pad(o, 3)}`, members: {}, hooks: [] })
  let repoId = 20_000_000
  let hookId = 200_000_000
  const enable = (userId: number, owner: { id: number; login: string; type: 'User' | 'Organization' }, name: string): World['repos'][number] => {
    const id = ++repoId
    const hook = ++hookId
    registrations.push({
      github_user_id: userId,
      kind: 'repo',
      owner_id: owner.id,
      owner_login: owner.login,
      owner_type: owner.type,
      repo_id: id,
      repo_name: name,
      hook_id: hook,
      hook_url: LEGACY_HOOK_URL,
      created_at: '2019-01-01T00:00:00Z',
    })
    const hooks: World['repos'][number]['hooks'] = [{ id: hook, url: LEGACY_HOOK_URL, events: ['push'], created_by: LEGACY_CLIENT_ID }]
    if (size.foreignHookEvery !== undefined && id % size.foreignHookEvery === 0) hooks.push({ id: ++hookId, url: FOREIGN_HOOK_URL, events: ['push'], created_by: 'other-integration' })
    return { id, owner: owner.login, name, private: true, hooks }
  }
  for (let u = 1; u <= size.users; u++) {
    const login = `crowd-${pad(u, 4)}`
    users.push({ id: u, login, legacy_token: `gho_crowd${pad(u, 27)}`, legacy_scopes: ['repo', 'admin:repo_hook', 'read:org'] })
    for (let r = 1; r <= size.personalRepos; r++) repos.push(enable(u, { id: u, login, type: 'User' }, `own-${r}`))
    const org = orgs[(u - 1) % size.orgs]!
    org.members[login] = Object.keys(org.members).length === 0 ? 'admin' : 'member'
    for (let r = 1; r <= size.orgReposPerUser; r++) repos.push(enable(u, { id: org.id, login: org.login, type: 'Organization' }, `${login}-svc-${r}`))
  }
  return {
    app: structuredClone(BENCH_APP),
    legacy_oauth_app: { client_id: LEGACY_CLIENT_ID, hook_url: LEGACY_HOOK_URL },
    users,
    orgs,
    repos,
    installations: [],
    legacy_registrations: registrations,
  }
}
