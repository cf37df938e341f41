import type { World } from '../../src/simulator/world.js'
import { demoWorld } from './simulator.js'

// The world of the GitHub-faults part of the resilience suite: three organizations and their
// people, every repository with the old app's hook and its legacy record, and a few of every
// fate. Five people migrate through the wizard (forge's and vault's owners and members); fay
// installs the App on GitHub by herself, on her account and on mill, where gus enabled hooks
// too: the operator's sweep finds theirs. hal has nothing of the old app; repositories are
// transferred to him.

export const HOOK_URL = 'https://ci.example.com/hooks/github'
const LEGACY_CLIENT = 'legacy-oauth-client'

export interface FaultsPerson {
  id: number
  login: string
  /** Organizations the person owns (and installs on through the wizard, if a wizard user). */
  owns: string[]
  wizard: boolean
}

export const PEOPLE: FaultsPerson[] = [
  { id: 1, login: 'ada', owns: ['forge'], wizard: true },
  { id: 2, login: 'bo', owns: [], wizard: true },
  { id: 3, login: 'cy', owns: [], wizard: true },
  { id: 4, login: 'di', owns: ['vault'], wizard: true },
  { id: 5, login: 'ed', owns: [], wizard: true },
  { id: 6, login: 'fay', owns: ['mill'], wizard: false },
  { id: 7, login: 'gus', owns: [], wizard: false },
]

const ORGS = [
  { id: 100, login: 'forge', members: ['ada', 'bo', 'cy'], repos: 18, orgHooksBy: ['ada', 'bo'] },
  { id: 101, login: 'vault', members: ['di', 'ed'], repos: 10, orgHooksBy: ['di'] },
  { id: 102, login: 'mill', members: ['fay', 'gus'], repos: 10, orgHooksBy: ['fay'] },
]

/** Personal repositories of each person but gus. */
const PERSONAL = 5

/** Recorded hooks that now deliver elsewhere on GitHub (someone changed them): kept, as foreign. */
export const REPOINTED = ['ada/ada-2', 'forge/forge-08', 'mill/mill-03']
/** Recorded hooks GitHub no longer has (someone deleted them by hand). */
export const GONE = ['cy/cy-3', 'forge/forge-10', 'mill/mill-05']

export function faultsWorld(): World {
  const demo = demoWorld()
  const users: World['users'] = PEOPLE.map((p) => ({ id: p.id, login: p.login, legacy_token: `gho_legacy_${p.login}_${String(p.id).padStart(4, '0')}`, legacy_scopes: ['repo', 'admin:repo_hook', 'admin:org_hook', 'read:org'] }))
  users.push({ id: 8, login: 'hal', legacy_token: null })
  const ids = new Map(PEOPLE.map((p) => [p.login, p.id]))
  const orgs: NonNullable<World['orgs']> = []
  const repos: World['repos'] = []
  const registrations: NonNullable<World['legacy_registrations']> = []
  let repoId = 10_000
  let hookId = 500_000
  const enable = (by: string, owner: { id: number; login: string; type: 'User' | 'Organization' }, name: string): void => {
    const id = ++repoId
    const hook = ++hookId
    const full = `${owner.login}/${name}`
    registrations.push({ github_user_id: ids.get(by)!, kind: 'repo', owner_id: owner.id, owner_login: owner.login, owner_type: owner.type, repo_id: id, repo_name: name, hook_id: hook, hook_url: HOOK_URL, created_at: '2019-05-01T00:00:00Z' })
    const hooks: World['repos'][number]['hooks'] = []
    if (!GONE.includes(full)) hooks.push({ id: hook, url: REPOINTED.includes(full) ? 'https://elsewhere.example.org/hook' : HOOK_URL, events: ['push'], created_by: LEGACY_CLIENT })
    // Every third repository has a hook of its own that no record names: never touched.
    if (id % 3 === 0) hooks.push({ id: hook + 100_000, url: 'https://chat.example.org/notify', events: ['push'], created_by: 'user' })
    repos.push({ id, owner: owner.login, name, private: true, hooks })
  }
  for (const p of PEOPLE) {
    if (p.login === 'gus') continue
    for (let r = 1; r <= PERSONAL; r++) enable(p.login, { id: p.id, login: p.login, type: 'User' }, `${p.login}-${r}`)
  }
  for (const o of ORGS) {
    const owner = { id: o.id, login: o.login, type: 'Organization' as const }
    const hooks: NonNullable<NonNullable<World['orgs']>[number]['hooks']> = []
    for (const by of o.orgHooksBy) {
      const hook = ++hookId
      registrations.push({ github_user_id: ids.get(by)!, kind: 'org', owner_id: o.id, owner_login: o.login, owner_type: 'Organization', hook_id: hook, hook_url: HOOK_URL, created_at: '2019-05-01T00:00:00Z' })
      hooks.push({ id: hook, url: HOOK_URL, events: ['push'], created_by: LEGACY_CLIENT })
    }
    orgs.push({ id: o.id, login: o.login, members: Object.fromEntries(o.members.map((m, i) => [m, i === 0 ? 'admin' : 'member'])), hooks })
    // Enabled by the members in turn.
    for (let r = 1; r <= o.repos; r++) enable(o.members[(r - 1) % o.members.length]!, owner, `${o.login}-${String(r).padStart(2, '0')}`)
  }
  // A member administers the organization's repositories they enabled (as a collaborator,
  // which a transfer keeps).
  for (const repo of repos) {
    const reg = registrations.find((g) => g.repo_id === repo.id)!
    const enabler = PEOPLE.find((p) => p.id === reg.github_user_id)!
    if (reg.owner_type === 'Organization' && !enabler.owns.includes(reg.owner_login)) repo.collaborators = { [enabler.login]: 'admin' }
  }
  return { app: demo.app, legacy_oauth_app: demo.legacy_oauth_app, users, orgs, repos, installations: [], legacy_registrations: registrations }
}
