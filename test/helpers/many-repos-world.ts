import type { World } from '../../src/simulator/world.js'
import { demoWorld } from './simulator.js'

// One user with many repositories over many owners, each enabled through the legacy OAuth App:
// mona (id 1) owns her own share and administers every organization (her token holds read:org,
// so her role is asked). `unlisted` more registrations name repositories GitHub no longer has:
// planning looks each of them up.

export interface ManyRepos {
  repos: number
  owners: number
  unlisted?: number
  /** The hook id of the `i`th repository's hook (default 510,000 + i: one run of ids). */
  hookId?: (i: number) => number
}

const HOOK_URL = 'https://ci.example.com/hooks/github'

export function manyReposWorld(size: ManyRepos): World {
  const demo = demoWorld()
  const mona = { id: 1, login: 'mona', legacy_token: 'gho_legacy_mona_0001', legacy_scopes: ['repo', 'admin:repo_hook', 'admin:org_hook', 'read:org'] }
  const orgs = Array.from({ length: size.owners - 1 }, (_, i) => ({ id: 100 + i, login: `org-${String(i + 1).padStart(2, '0')}`, members: { mona: 'admin' as const } }))
  const owners = [{ id: 1, login: 'mona', type: 'User' as const }, ...orgs.map((o) => ({ id: o.id, login: o.login, type: 'Organization' as const }))]
  const repos: World['repos'] = []
  const registrations: NonNullable<World['legacy_registrations']> = []
  const hookId = size.hookId ?? ((i: number) => 510_000 + i)
  const register = (id: number, owner: (typeof owners)[number], name: string, hook: number): void => {
    registrations.push({ id: registrations.length + 1, github_user_id: 1, kind: 'repo', owner_id: owner.id, owner_login: owner.login, owner_type: owner.type, repo_id: id, repo_name: name, hook_id: hook, hook_url: HOOK_URL })
  }
  for (let i = 0; i < size.repos; i++) {
    const owner = owners[i % owners.length]!
    const id = 10_000 + i
    const name = `repo-${String(i).padStart(4, '0')}`
    repos.push({ id, owner: owner.login, name, private: false, hooks: [{ id: hookId(i), url: HOOK_URL, events: ['push'], created_by: demo.legacy_oauth_app.client_id }] })
    register(id, owner, name, hookId(i))
  }
  for (let i = 0; i < (size.unlisted ?? 0); i++) register(90_000 + i, owners[0]!, `deleted-${i}`, 590_000 + i)
  return { app: demo.app, legacy_oauth_app: demo.legacy_oauth_app, users: [mona], orgs, repos, installations: [], legacy_registrations: registrations }
}
