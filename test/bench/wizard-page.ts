import { Readable } from 'node:stream'
import { sql } from 'kysely'
import { connect } from '../../src/db/connect.js'
import { migrateToLatest } from '../../src/db/migrator.js'
import { importLegacyCsv } from '../../src/legacy/import.js'
import { legacyCsvFromWorld } from '../../src/legacy/world-seed.js'
import { buildSimulator } from '../../src/simulator/server.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { manyReposWorld } from '../helpers/many-repos-world.js'
import { codeFor } from '../helpers/sign-in.js'
import type { StartedSimulator } from '../helpers/simulator.js'
import type { BareJob } from './bare-page.js'
import { startChildServer, type ChildServer } from './child-server.js'
import { load, type LoadFigures } from './http-load.js'
import { freshDatabase } from './legacy-import.js'
import type { ServiceJob } from './service-process.js'
import type { SummaryRow } from './summary.js'

// The wizard's overview page under load (issue 12, point 3): a user with 2,000 repositories over
// 40 owners, planned, in a database of 1,000,000 legacy registrations whose other users have
// planned too (their batches, and removal tasks for half of them). The service runs in a process
// of its own, as `npm start` runs it, signed in once per connection; autocannon, in this
// process, keeps 50 connections busy on /migrate. Beside it, in the same run and the same way,
// a bare fastify + eta page of the same repositories and the same size in bytes, no database:
// what rendering and sending such a page costs at the least. Rounds alternate, so both meet
// the same neighbours; the median of each figure counts.

export interface WizardPageFigures {
  registrations: number
  repos: number
  owners: number
  connections: number
  seconds: number
  rounds: number
  seedMs: number
  pageBytes: number
  barePageBytes: number
  service: LoadFigures
  bare: LoadFigures
  /** The service's p99 over the bare page's. */
  ratioP99: number
  ratioP50: number
}

export const WIZARD_PAGE_TARGETS = { ratioP99: 2, p99Ms: 50 }

const REPOS = 2_000
const OWNERS = 40
const OTHERS_FIRST_USER = 1_000_000
// GitHub numbers hooks in one sequence for everyone: a user's hooks, made over the years, lie
// among everyone else's. The user's every 1,000th id (odd), the others' every even one, so that
// reading the user's hooks (and their removal tasks) meets the others' in every index page.
const HOOKS_FROM = 1_000_000_000
const userHookId = (i: number): number => HOOKS_FROM + 1 + i * 1_000

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

/** Each figure's median over the rounds; memory, the largest. */
function medianOf(runs: LoadFigures[]): LoadFigures {
  const of = (key: keyof LoadFigures): number => median(runs.map((r) => r[key]))
  const sum = (key: keyof LoadFigures): number => runs.reduce((n, r) => n + r[key], 0)
  return {
    requests: sum('requests'),
    rps: of('rps'),
    p50Ms: of('p50Ms'),
    p99Ms: of('p99Ms'),
    maxMs: Math.max(...runs.map((r) => r.maxMs)),
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    bytesPerResponse: of('bytesPerResponse'),
    peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
  }
}

/**
 * `count` registrations of other users: four hooks each, two on their own account and two on
 * one of 5,000 organizations; each user planned (one batch per owner), and half of them had
 * their old hooks removed.
 */
export async function seedOthers(db: ReturnType<typeof connect>['db'], count: number): Promise<void> {
  const users = Math.ceil(count / 4)
  await sql`
    insert into legacy.oauth_users (github_user_id, login, oauth_token, scopes)
    select ${OTHERS_FIRST_USER} + u, 'user-' || u, 'gho_' || md5(u::text), 'repo,admin:repo_hook' from generate_series(0, ${users - 1}) u`.execute(db)
  await sql`
    insert into legacy.webhooks (github_user_id, kind, owner_id, owner_login, owner_type, repo_id, repo_name, hook_id, hook_url, created_at)
    select ${OTHERS_FIRST_USER} + i / 4, 'repo',
      case when i % 4 < 2 then ${OTHERS_FIRST_USER} + i / 4 else 20000000 + (i / 4) % 5000 end,
      case when i % 4 < 2 then 'user-' || i / 4 else 'org-' || (i / 4) % 5000 end,
      case when i % 4 < 2 then 'User' else 'Organization' end,
      100000000 + i, 'repo-' || i, ${HOOKS_FROM} + 2 * i, 'https://ci.example.com/hooks/github', timestamptz '2017-01-01' + i * interval '1 minute'
    from generate_series(0, ${count - 1}) i`.execute(db)
  await sql`
    insert into app.inventory (user_id, user_login, planned_at, gone, notes)
    select ${OTHERS_FIRST_USER} + u, 'user-' || u, now() - interval '1 day', '[]', '[]' from generate_series(0, ${users - 1}) u`.execute(db)
  await sql`
    insert into app.batch (user_id, owner_id, owner_login, owner_type, role, action, hidden_repos, installation_id, coverage_checked_at)
    select distinct github_user_id, owner_id, owner_login, owner_type, case when owner_type = 'User' then 'owner' else 'admin' end, 'install', 0, null::bigint, null::timestamptz
    from legacy.webhooks where github_user_id >= ${OTHERS_FIRST_USER}`.execute(db)
  await sql`
    insert into app.batch_repo (batch_id, repo_id, repo_name, private, moved, enabled_by, hook_ids)
    select b.id, w.repo_id, w.repo_name, false, false, array['user-' || w.github_user_id - ${OTHERS_FIRST_USER}], array[w.hook_id]
    from legacy.webhooks w join app.batch b on b.user_id = w.github_user_id and b.owner_id = w.owner_id`.execute(db)
  await sql`
    insert into app.cleanup_task (hook_id, kind, owner_id, owner_login, repo_id, repo_name, enabled_by, requested_by, state, credential, attempts)
    select hook_id, 'repo', owner_id, owner_login, repo_id, repo_name, github_user_id, github_user_id, 'removed', 'legacy', 1
    from legacy.webhooks where github_user_id >= ${OTHERS_FIRST_USER} and github_user_id % 2 = 0`.execute(db)
  await sql`analyze`.execute(db)
}

function sessionOf(res: Response): string {
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`))
  if (cookie === undefined) throw new Error(`${res.url} answered ${res.status} without a session cookie`)
  return cookie.split(';')[0]!
}

/** A whole sign-in over HTTP, GitHub's side answered as if the user approved: the session's cookie. */
async function signInOverHttp(base: string, sim: Pick<StartedSimulator, 'state'>, userId: number): Promise<string> {
  const login = await fetch(`${base}/auth/login`, { redirect: 'manual' })
  const authorize = new URL(login.headers.get('location')!)
  const code = codeFor(sim as StartedSimulator, authorize, userId)
  const back = await fetch(`${base}/auth/callback?code=${code}&state=${authorize.searchParams.get('state')}`, { redirect: 'manual', headers: { cookie: sessionOf(login) } })
  if (back.status !== 302) throw new Error(`sign-in answered ${back.status}`)
  return sessionOf(back)
}

export async function benchWizardPage(adminUrl: string, options: { registrations?: number; seconds?: number; connections?: number; rounds?: number } = {}): Promise<WizardPageFigures> {
  const registrations = options.registrations ?? 1_000_000
  const seconds = options.seconds ?? 5
  const connections = options.connections ?? 50
  const rounds = options.rounds ?? 3
  const world = manyReposWorld({ repos: REPOS, owners: OWNERS, hookId: userHookId })
  const hooks = world.legacy_registrations!.length
  if (registrations < hooks) throw new Error(`at least ${hooks} registrations: the user's own`)
  const sim = await buildSimulator({ logLevel: 'silent', world: structuredClone(world) })
  await sim.app.listen({ host: '127.0.0.1', port: 0 })
  const simUrl = `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}`
  const url = await freshDatabase(adminUrl, 'bench_wizard_page')
  const db = connect(url, { max: 2 })
  const servers: ChildServer[] = []
  try {
    const started = performance.now()
    await migrateToLatest(db.db)
    const seeded = await importLegacyCsv(db.pool, Readable.from([legacyCsvFromWorld(world)]), { fileName: 'bench', onProblem: () => {} })
    if (seeded.status !== 'imported') throw new Error('the benchmark world does not import')
    await seedOthers(db.db, registrations - hooks)
    const seedMs = performance.now() - started

    const service = await startChildServer(new URL('./service-process.js', import.meta.url), { databaseUrl: url, world, simUrl, privateKey: sim.keys.privateKey } satisfies ServiceJob)
    servers.push(service)
    // One signed-in browser a connection, all of them the same user.
    const cookies: string[] = []
    for (let i = 0; i < connections; i++) cookies.push(await signInOverHttp(service.url, sim, world.users[0]!.id))
    const headers = { cookie: cookies[0]! }
    const first = await fetch(`${service.url}/migrate`, { headers })
    if (first.status !== 200) throw new Error(`/migrate answered ${first.status}`)
    for (;;) {
      const progress = (await (await fetch(`${service.url}/migrate/progress`, { headers: { ...headers, accept: 'application/json' } })).json()) as { underWay: boolean }
      if (!progress.underWay) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const page = await (await fetch(`${service.url}/migrate`, { headers })).text()
    const listed = page.match(/<li>[^<]*\/repo-\d{4}/g)?.length ?? 0
    if (listed !== REPOS || page.includes('http-equiv="refresh"')) throw new Error(`the planned page lists ${listed} of ${REPOS} repositories`)
    const pageBytes = Buffer.byteLength(page)

    const owners = new Map<string, BareJob['owners'][number]>()
    for (const r of world.repos) {
      const owner = owners.get(r.owner) ?? { login: r.owner, repos: [] }
      owner.repos.push({ name: r.name, enabledBy: world.users[0]!.login })
      owners.set(r.owner, owner)
    }
    const bare = await startChildServer(new URL('./bare-page.js', import.meta.url), { owners: [...owners.values()], bytes: pageBytes } satisfies BareJob)
    servers.push(bare)
    const barePageBytes = Buffer.byteLength(await (await fetch(bare.url)).text())

    const run = (server: ChildServer, withCookies: boolean, runSeconds: number): Promise<LoadFigures> =>
      load({ url: `${server.url}${withCookies ? '/migrate' : '/'}`, pid: server.pid, connections, seconds: runSeconds, ...(withCookies ? { cookies } : {}) })
    // A first run of each warms the JIT, the pools and the caches; it is not counted.
    await run(bare, false, Math.min(2, seconds))
    await run(service, true, Math.min(2, seconds))
    const serviceRuns: LoadFigures[] = []
    const bareRuns: LoadFigures[] = []
    for (let round = 0; round < rounds; round++) {
      bareRuns.push(await run(bare, false, seconds))
      serviceRuns.push(await run(service, true, seconds))
    }
    const s = medianOf(serviceRuns)
    const b = medianOf(bareRuns)
    return {
      registrations,
      repos: REPOS,
      owners: OWNERS,
      connections,
      seconds,
      rounds,
      seedMs,
      pageBytes,
      barePageBytes,
      service: s,
      bare: b,
      ratioP99: s.p99Ms / b.p99Ms,
      ratioP50: s.p50Ms / b.p50Ms,
    }
  } finally {
    for (const server of servers) await server.stop()
    await db.close()
    await sim.app.close()
  }
}

export function wizardPageOk(f: WizardPageFigures): boolean {
  const clean = (l: LoadFigures): boolean => l.non2xx === 0 && l.errors === 0 && l.timeouts === 0
  return f.ratioP99 <= WIZARD_PAGE_TARGETS.ratioP99 && f.service.p99Ms < WIZARD_PAGE_TARGETS.p99Ms && clean(f.service) && clean(f.bare)
}

export function wizardPageReport(f: WizardPageFigures): { text: string; ok: boolean } {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US')
  const line = (l: LoadFigures): string =>
    `p50 ${l.p50Ms.toFixed(1)} ms, p99 ${l.p99Ms.toFixed(1)} ms (max ${n(l.maxMs)}), ${n(l.rps)} requests/s; ${n(l.requests)} requests, non-2xx ${l.non2xx}, errors ${l.errors + l.timeouts}; peak RSS ${n(l.peakRssMb)} MB`
  const ok = wizardPageOk(f)
  return {
    ok,
    text: [
      `wizard page: /migrate of a user with ${n(f.repos)} repositories over ${f.owners} owners, planned (${n(f.pageBytes)} bytes), in a database of ${n(f.registrations)} registrations (seeded in ${(f.seedMs / 1000).toFixed(1)} s)`,
      `  autocannon, ${f.connections} connections, ${f.rounds} alternating rounds of ${f.seconds} s each, medians; each server a process of its own`,
      `  bare fastify + eta, same rows, ${n(f.barePageBytes)} bytes: ${line(f.bare)}`,
      `  the service, signed in:                ${line(f.service)}`,
      `  p99 vs the bare page: ${f.ratioP99.toFixed(2)} (target <= ${WIZARD_PAGE_TARGETS.ratioP99.toFixed(2)}), p50: ${f.ratioP50.toFixed(2)}; p99 ${f.service.p99Ms.toFixed(1)} ms (target < ${WIZARD_PAGE_TARGETS.p99Ms} ms)`,
      '',
    ].join('\n'),
  }
}

export function wizardPageRows(f: WizardPageFigures): SummaryRow[] {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US')
  const ms = (x: number): string => `${x.toFixed(1)} ms`
  const failures = f.service.non2xx + f.service.errors + f.service.timeouts
  return [
    {
      what: `wizard page (/migrate, ${n(f.repos)} repositories over ${f.owners} owners, planned, ${n(f.pageBytes)} bytes) in a database of ${n(f.registrations)} registrations, autocannon ${f.connections} connections, vs a bare fastify + eta page of the same rows and bytes`,
      measured: `p99 ${ms(f.service.p99Ms)} vs ${ms(f.bare.p99Ms)}: **${f.ratioP99.toFixed(2)}x**; p50 ${ms(f.service.p50Ms)} vs ${ms(f.bare.p50Ms)} (${f.ratioP50.toFixed(2)}x); ${n(f.service.rps)} vs ${n(f.bare.rps)} requests/s; ${failures} non-2xx or errors`,
      goal: `p99 within ${WIZARD_PAGE_TARGETS.ratioP99}x of the bare page's and under ${WIZARD_PAGE_TARGETS.p99Ms} ms`,
      met: wizardPageOk(f),
    },
    {
      what: `the service's memory under that load (its own process, peak RSS during the runs)`,
      measured: `${n(f.service.peakRssMb)} MB (the bare page's process: ${n(f.bare.peakRssMb)} MB)`,
      goal: 'none set: reported',
      met: undefined,
    },
  ]
}
