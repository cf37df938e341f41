import { writeFile } from 'node:fs/promises'
import type { World } from '../../src/simulator/world.js'
import { random } from '../helpers/seeded-random.js'

// A large simulator world for the benchmark, shaped like a vendor's install base: most users
// own a handful of repositories, organizations own the rest, most repositories carry the
// legacy OAuth App's hook and some a hook of their own, and a few hundred accounts have
// installed the GitHub App already. Deterministic (seeded), so two runs load the same world.

export interface BenchWorldSize {
  repos: number
  hooks: number
}

export interface BenchWorld {
  world: World
  /** What the load generator needs to pick requests that succeed. */
  index: {
    /** Users with a working legacy token, with repositories they own. */
    legacyUsers: { login: string; token: string; repos: { id: number; name: string }[] }[]
    installations: { id: number; account: string; repositories: number }[]
  }
}

/** The App of the benchmark worlds, installed on the simulator at 127.0.0.1:3000. */
export const BENCH_APP: World['app'] = {
  id: 9001,
  slug: 'acme-ci',
  name: 'Acme CI',
  client_id: 'Iv1.benchacmeci',
  client_secret: 'bench-client-secret',
  webhook_secret: 'bench-webhook-secret',
  permissions: { metadata: 'read', contents: 'read', repository_hooks: 'write' },
  callback_url: 'http://127.0.0.1:3000/auth/callback',
  setup_url: 'http://127.0.0.1:3000/github/setup',
}

export const LEGACY_HOOK_URL = 'https://ci.example.com/hooks/github'
const LEGACY_CLIENT_ID = 'legacy-oauth-client'

const pad = (n: number, width: number): string => String(n).padStart(width, '0')

export function benchWorld(size: BenchWorldSize = { repos: 50_000, hooks: 100_000 }, seed = 20_240_601): BenchWorld {
  const rand = random(seed)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!
  // One user per ten repositories and one org per hundred: GitHub's long tail of small accounts.
  const userCount = Math.max(3, Math.ceil(size.repos / 10))
  const orgCount = Math.max(1, Math.ceil(size.repos / 100))

  const users: World['users'] = []
  for (let i = 1; i <= userCount; i++) {
    // One user in twenty revoked the legacy app.
    const revoked = rand() < 0.05
    users.push({
      id: i,
      login: `user-${pad(i, 6)}`,
      legacy_token: revoked ? null : `gho_bench${pad(i, 27)}`,
      legacy_scopes: ['repo', 'admin:repo_hook', 'admin:org_hook'],
    })
  }

  const orgs: NonNullable<World['orgs']> = []
  for (let i = 1; i <= orgCount; i++) {
    const members: Record<string, 'admin' | 'member'> = {}
    const memberCount = 3 + Math.floor(rand() * 10)
    for (let m = 0; m < memberCount; m++) members[pick(users).login] = m === 0 ? 'admin' : 'member'
    orgs.push({ id: 1_000_000 + i, login: `org-${pad(i, 5)}`, members, hooks: [] })
  }

  const repos: World['repos'] = []
  const owned = new Map<string, { id: number; name: string }[]>()
  for (let i = 1; i <= size.repos; i++) {
    const owner = rand() < 0.6 ? pick(users).login : pick(orgs).login
    const repo: World['repos'][number] = { id: 10_000_000 + i, owner, name: `repo-${pad(i, 6)}`, private: rand() < 0.5, hooks: [] }
    if (rand() < 0.1) repo.collaborators = { [pick(users).login]: pick(['read', 'write', 'admin'] as const) }
    repos.push(repo)
    let list = owned.get(owner)
    if (list === undefined) owned.set(owner, (list = []))
    list.push({ id: repo.id, name: repo.name })
  }

  // Every repository gets one hook first, the rest land at random: some repositories carry
  // several (the legacy hook plus people's own), and one hook in a hundred is an org hook.
  let hookId = 100_000_000
  for (let h = 0; h < size.hooks; h++) {
    const legacy = rand() < 0.8
    const hook = {
      id: ++hookId,
      url: legacy ? LEGACY_HOOK_URL : `https://hooks.example.org/${pad(h, 7)}`,
      events: legacy ? ['push', 'pull_request'] : ['push'],
      created_by: legacy ? LEGACY_CLIENT_ID : 'user',
    }
    if (h >= size.repos && rand() < 0.01) pick(orgs).hooks!.push(hook)
    else (h < size.repos ? repos[h % repos.length]! : pick(repos)).hooks!.push(hook)
  }

  // The app is already on one account in a hundred: users with all their repositories,
  // organizations with a selection.
  const installations: NonNullable<World['installations']> = []
  const installed = new Set<string>()
  const installationCount = Math.max(1, Math.ceil((userCount + orgCount) / 100))
  for (let i = 1; i <= installationCount; i++) {
    const org = i % 2 === 0
    const account = org ? pick(orgs).login : pick(users).login
    const repositories = owned.get(account) ?? []
    if (installed.has(account) || repositories.length === 0) continue
    installed.add(account)
    installations.push(
      org
        ? { id: 50_000_000 + i, account, repository_selection: 'selected', repositories: repositories.slice(0, Math.ceil(repositories.length / 2)).map((r) => r.id) }
        : { id: 50_000_000 + i, account, repository_selection: 'all' },
    )
  }

  const world: World = {
    app: structuredClone(BENCH_APP),
    legacy_oauth_app: { client_id: LEGACY_CLIENT_ID, hook_url: LEGACY_HOOK_URL },
    users,
    orgs,
    repos,
    installations,
  }
  const legacyUsers = users
    .filter((u) => typeof u.legacy_token === 'string' && (owned.get(u.login)?.length ?? 0) > 0)
    .map((u) => ({ login: u.login, token: u.legacy_token!, repos: owned.get(u.login)! }))
  return {
    world,
    index: {
      legacyUsers,
      installations: installations.map((i) => ({
        id: i.id,
        account: i.account,
        repositories: i.repository_selection === 'all' ? (owned.get(i.account)?.length ?? 0) : i.repositories!.length,
      })),
    },
  }
}

/** Writes the world as one JSON file (compact, as a generated world would be). */
export async function writeBenchWorld(file: string, world: World): Promise<number> {
  const text = JSON.stringify(world)
  await writeFile(file, text)
  return Buffer.byteLength(text)
}
