import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import { sql } from 'kysely'
import t from 'tap'
import { freePort, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded-postgres.js'
import { verifyAuditChain } from '../../src/migration/audit.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { signature, webhookPayload } from '../../src/simulator/delivery.js'
import { crowdWorld } from '../bench/crowd-world.js'
import { table } from '../helpers/resilience.js'
import { serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { csrfOf, followSetup, formAction, installOnGitHub, press, settled, view } from '../helpers/wizard.js'

// Postgres restarted under load (issue 12): the service runs on a Postgres of this test's own,
// under a steady load of wizard requests while old webhooks are being removed for some users
// and others are being planned. Postgres is stopped twice, once fast (as a restart does) and
// once at once (as a crash does), and started again a few seconds later on the same port and
// data. Meanwhile every answer must be a clear 503 that says to try again (never a 500, a stack
// or a word of the database's), no request may hang, and the process must not fall over; once
// Postgres is back the service answers again without being restarted, the work under way
// finishes by itself, and nothing is half-written: each old webhook has one outcome on the
// record and on GitHub, no job or check is left hanging, and the audit chain verifies.

const USERS = 24
/** Requests sent at once, all the time. */
const CLIENTS = 8
/** How long Postgres stays away each time. */
const OUTAGE_MS = 3_000
/** A request that takes longer has hung. */
const HUNG_MS = 10_000
/** GitHub is slow while old webhooks are being removed, so that removals are under way when Postgres goes. */
const SLOW_GITHUB_MS = 60

/** What the database's errors say, and what a page must never show. */
const INTERNALS = /ECONNREFUSED|postgres|pg-boss|terminat|57P0|08006|at \w+ \(|node_modules|127\.0\.0\.1|select |insert |Error:/i

type Phase = 'up' | 'stopping' | 'down' | 'starting' | 'recovering'

interface Answer {
  phase: Phase
  kind: string
  status: number | 'hung'
  ms: number
  /** What is wrong with it, if anything. */
  problem?: string
}

t.setTimeout(180_000)

t.test('Postgres restarted under load: clean 503s while it is away, then the service and its work carry on by themselves', async (t) => {
  const started = Date.now()
  const dataDir = path.resolve('.data', `postgres-restart-${process.pid}`)
  const port = await freePort()
  let pg: EmbeddedPostgres = await startEmbeddedPostgres({ dataDir, persistent: true, port })
  // Registered first, so it runs last: the test's database is dropped before the server stops.
  t.teardown(async () => {
    await pg.stop()
    await rm(pg.dataDir, { recursive: true, force: true })
  })

  const world = crowdWorld({ users: USERS, orgs: 1, personalRepos: 4, orgReposPerUser: 0 })
  const service = await serviceWithGitHub(t, world, { rateLimitPerMinute: 1_000_000 }, { server: pg.url, poolMax: 10 })
  const { app, sim, tdb } = service

  // Before: every user has signed in and installed on their own account; half of them are
  // about to agree to remove their old webhooks.
  const users = await Promise.all(
    world.users.map(async (user) => {
      const cookie = await signIn(app, sim, user.id)
      const link = (await press(app, cookie, formAction((await view(app, cookie)).body, `Install on ${user.login}`))).headers.location as string
      const back = await followSetup(app, sim, cookie, installOnGitHub(sim, link, user.login), user.id)
      if (back.statusCode !== 302) throw new Error(`${user.login} could not install: ${back.statusCode}`)
      return { ...user, cookie }
    }),
  )
  await settled(service)
  const batches = new Map((await tdb.db.selectFrom('app.batch').select(['id', 'user_id']).execute()).map((b) => [b.user_id, b.id]))
  const csrfs = new Map(await Promise.all(users.map(async (u) => [u.id, csrfOf((await view(app, u.cookie)).body)] as const)))

  // One of GitHub's deliveries, taken once: GitHub delivering it again (the same
  // X-GitHub-Delivery) is answered 200 and changes nothing.
  const first = users[0]!
  const delivered = JSON.stringify(
    webhookPayload(sim.state, { name: 'installation', action: 'created', installation: sim.state.installationOn(first.id)!, sender: sim.state.users.get(first.id)! }, sim.url),
  )
  const delivery = () =>
    app.inject({
      method: 'POST',
      url: '/github/webhooks',
      headers: { 'content-type': 'application/json', 'x-github-event': 'installation', 'x-github-delivery': `restart-${first.id}`, 'x-hub-signature-256': signature('sha256', sim.state.app.webhook_secret, delivered) },
      payload: delivered,
    })
  if ((await delivery()).statusCode !== 202) throw new Error('the delivery was not taken')
  await settled(service)

  // The load: page views, the page script's progress, "Check again", sign-ins, GitHub's
  // redelivery and the health check, from CLIENTS clients at once, the whole time.
  let phase: Phase = 'up'
  const answers: Answer[] = []
  let loading = true
  const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!
  const requests: Record<string, () => Promise<LightMyRequestResponse>> = {
    page: () => {
      const u = pick(users)
      return app.inject({ url: '/migrate', cookies: { [SESSION_COOKIE]: u.cookie } })
    },
    progress: () => {
      const u = pick(users)
      return app.inject({ url: '/migrate/progress', headers: { accept: 'application/json' }, cookies: { [SESSION_COOKIE]: u.cookie } })
    },
    check: () => {
      const u = pick(users)
      return app.inject({ method: 'POST', url: `/migrate/batches/${batches.get(u.id)}/check`, cookies: { [SESSION_COOKIE]: u.cookie }, payload: { _csrf: csrfs.get(u.id)! } })
    },
    'sign-in': () => app.inject({ url: '/auth/login' }),
    webhook: delivery,
    health: () => app.inject({ url: '/healthz' }),
  }
  const kinds = Object.keys(requests)
  const send = async (): Promise<void> => {
    const kind = pick(kinds)
    const at = phase
    const from = Date.now()
    let timer: NodeJS.Timeout | undefined
    const res = await Promise.race([requests[kind]!(), new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), HUNG_MS)))])
    clearTimeout(timer)
    const answer: Answer = { phase: at, kind, status: res === 'hung' ? 'hung' : res.statusCode, ms: Date.now() - from }
    if (res === 'hung') answer.problem = `no answer within ${HUNG_MS} ms`
    else if (res.statusCode >= 500 && res.statusCode !== 503) answer.problem = `answered ${res.statusCode}`
    else if (res.statusCode === 503) {
      if (INTERNALS.test(res.body)) answer.problem = `a 503 that shows internals: ${INTERNALS.exec(res.body)![0]}`
      else if (kind === 'health') {
        if (res.body !== JSON.stringify({ status: 'unavailable', database: 'unreachable' })) answer.problem = `health said ${res.body}`
      } else {
        if (!/try again in a moment/i.test(res.body)) answer.problem = 'a 503 that does not say to try again'
        if (res.headers['retry-after'] === undefined) answer.problem = 'a 503 without Retry-After'
      }
    } else if (at === 'down' && phase === 'down') answer.problem = `answered ${res.statusCode} while Postgres was away`
    answers.push(answer)
  }
  const load = Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (loading) {
        await send()
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }),
  )

  // Work under way when Postgres goes: half the users agree to remove their old webhooks (at
  // GitHub's slow pace), and four more sign in anew, to be planned again.
  sim.state.faults.latencyMs = SLOW_GITHUB_MS
  const removing = users.slice(0, USERS / 2)
  for (const u of removing) {
    const page = await view(app, u.cookie)
    const res = await app.inject({ method: 'POST', url: formAction(page.body, /Remove \d+ old webhooks/), cookies: { [SESSION_COOKIE]: u.cookie }, payload: { _csrf: csrfOf(page.body), auto: 'on' } })
    if (res.statusCode !== 303) throw new Error(`${u.login} could not agree to removal: ${res.statusCode}`)
  }
  for (const u of users.slice(USERS / 2, USERS / 2 + 4)) await app.inject({ method: 'POST', url: '/migrate/refresh', cookies: { [SESSION_COOKIE]: u.cookie }, payload: { _csrf: csrfs.get(u.id)! } })
  await new Promise((resolve) => setTimeout(resolve, 500))
  const openBefore = await openWork()

  const outages: { how: string; stopMs: number; downMs: number; startMs: number; recoveredMs: number }[] = []
  const outage = async (how: 'fast' | 'immediate'): Promise<void> => {
    phase = 'stopping'
    const stopFrom = Date.now()
    if (how === 'immediate') {
      // SIGQUIT to the postmaster: every backend ends at once, nothing is checkpointed, and
      // the next start recovers from the write-ahead log, as after a crash.
      const pid = Number((await readFile(path.join(pg.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0])
      process.kill(pid, 'SIGQUIT')
    }
    await pg.stop()
    const stopMs = Date.now() - stopFrom
    phase = 'down'
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS))
    phase = 'starting'
    const startFrom = Date.now()
    pg = await startEmbeddedPostgres({ dataDir, persistent: true, port })
    const startMs = Date.now() - startFrom
    phase = 'recovering'
    // Back when every kind of request has been answered well again.
    const back = Date.now()
    const recovered = new Set<string>()
    while (recovered.size < kinds.length) {
      if (Date.now() - back > 30_000) throw new Error(`not recovered 30 s after Postgres was back: ${kinds.filter((k) => !recovered.has(k)).join(', ')} still failing`)
      await new Promise((resolve) => setTimeout(resolve, 50))
      for (const a of answers.slice(-CLIENTS * 4)) if (a.phase === 'recovering' && typeof a.status === 'number' && a.status < 500) recovered.add(a.kind)
    }
    outages.push({ how, stopMs, downMs: OUTAGE_MS, startMs, recoveredMs: Date.now() - back })
    phase = 'up'
  }
  await outage('fast')
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  await outage('immediate')
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  loading = false
  await load

  // The work under way finishes by itself.
  sim.state.faults.latencyMs = 0
  const drainFrom = Date.now()
  let open = await openWork()
  while (open.total > 0 && Date.now() - drainFrom < 45_000) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    open = await openWork()
  }
  const drainMs = Date.now() - drainFrom

  async function openWork() {
    const { rows } = await sql<{ jobs: number; works: number; tasks: number; adding: number }>`
      select (select count(*)::int from pgboss.job where state in ('created', 'retry', 'active')) as jobs,
             (select count(*)::int from app.background_work where state in ('queued', 'running')) as works,
             (select count(*)::int from app.cleanup_task where state in ('pending', 'attempting')) as tasks,
             (select count(*)::int from app.batch where state = 'adding') as adding`.execute(tdb.db)
    const row = rows[0]!
    return { ...row, total: row.jobs + row.works + row.tasks + row.adding }
  }

  // The world afterwards.
  const violations: string[] = []
  const violation = (what: string): void => void violations.push(what)
  const problems = new Map<string, number>()
  for (const a of answers) if (a.problem !== undefined) problems.set(`${a.kind}: ${a.problem}`, (problems.get(`${a.kind}: ${a.problem}`) ?? 0) + 1)
  for (const [p, n] of problems) violation(`${p} (×${n})`)
  if (open.total > 0) violation(`work still open ${drainMs} ms after the load: ${JSON.stringify(open)}`)
  const tasks = await tdb.db.selectFrom('app.cleanup_task').select(['hook_id', 'state', 'attempts', 'requested_by']).execute()
  const events = await tdb.db.selectFrom('app.audit_event').select(['hook_id', 'action', 'outcome']).where('hook_id', 'is not', null).execute()
  const removingIds = new Set(removing.map((u) => u.id))
  const wanted = world.legacy_registrations!.filter((r) => removingIds.has(r.github_user_id))
  const hooksByOutcome = new Map<string, number>()
  for (const r of wanted) {
    const task = tasks.find((k) => k.hook_id === r.hook_id)
    hooksByOutcome.set(task?.state ?? 'no task', (hooksByOutcome.get(task?.state ?? 'no task') ?? 0) + 1)
    if (task?.state !== 'removed') violation(`hook ${r.hook_id}: ${task?.state ?? 'no task'}, not removed`)
    const mine = events.filter((e) => e.hook_id === r.hook_id)
    const outcomes = mine.filter((e) => e.action === 'hook_cleanup')
    if (outcomes.length !== 1) violation(`hook ${r.hook_id}: ${outcomes.length} outcomes on the record`)
    if (task !== undefined && mine.filter((e) => e.action === 'hook_delete_attempted').length !== task.attempts) violation(`hook ${r.hook_id}: ${task.attempts} attempts, ${mine.filter((e) => e.action === 'hook_delete_attempted').length} intents on the record`)
    if (sim.state.hookById(r.hook_id) !== undefined) violation(`hook ${r.hook_id}: still on GitHub`)
    const deleted = sim.state.apiLog.filter((e) => e.method === 'DELETE' && e.path.endsWith(`/hooks/${r.hook_id}`) && e.status === 204).length
    if (deleted !== 1) violation(`hook ${r.hook_id}: deleted ${deleted} times on GitHub`)
  }
  const kept = world.legacy_registrations!.filter((r) => !removingIds.has(r.github_user_id))
  for (const r of kept) if (sim.state.hookById(r.hook_id) === undefined) violation(`hook ${r.hook_id}: deleted without its user's agreement`)
  hooksByOutcome.set('kept (no agreement)', kept.filter((r) => sim.state.hookById(r.hook_id) !== undefined).length)
  // No batch or piece of work left between two states: every batch installed, its repositories
  // covered, and every check and plan ended well (one that failed on the way ran again).
  const batchStates = await tdb.db.selectFrom('app.batch').select(['state', 'installation_id']).execute()
  for (const b of batchStates) if (b.state !== 'installed' || b.installation_id === null) violation(`a batch ${b.state}, installation ${b.installation_id}`)
  const uncovered = await tdb.db.selectFrom('app.batch_repo').select('repo_id').where('coverage', '<>', 'covered').execute()
  if (uncovered.length > 0) violation(`${uncovered.length} repositories not covered`)
  const works = await tdb.db.selectFrom('app.background_work').select(['kind', 'state', 'outcome']).execute()
  const worksByEnd = new Map<string, number>()
  for (const w of works) worksByEnd.set(`${w.kind} ${w.state} ${w.outcome ?? ''}`.trim(), (worksByEnd.get(`${w.kind} ${w.state} ${w.outcome ?? ''}`.trim()) ?? 0) + 1)
  for (const w of works) if (w.state !== 'done') violation(`a ${w.kind} ${w.state}`)
  const jobs = await sql<{ state: string; n: number }>`select state::text, count(*)::int as n from pgboss.job group by state`.execute(tdb.db)
  for (const j of jobs.rows) if (j.state !== 'completed') violation(`${j.n} jobs ${j.state}`)
  // The sealer catches up with what was committed while it could not seal.
  await new Promise((resolve) => setTimeout(resolve, 500))
  const chain = await verifyAuditChain(tdb.db)
  if (!chain.intact) violation(`the audit chain is broken at #${chain.brokenAt}: ${chain.reason}`)
  if (chain.pending > 0) violation(`${chain.pending} audit events left unsealed`)

  t.equal(violations.length, 0, 'no invariant violations')
  for (const v of violations.slice(0, 40)) t.comment(`VIOLATION ${v}`)

  const fmt = (m: Map<string | number, number>) => [...m].sort(([a], [b]) => String(a).localeCompare(String(b))).map(([k, n]) => `${k}×${n}`).join(' ')
  const byPhase = (p: Phase) => {
    const mine = answers.filter((a) => a.phase === p)
    const statuses = new Map<string | number, number>()
    for (const a of mine) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1)
    const slowest = Math.max(0, ...mine.map((a) => a.ms))
    return [`requests, Postgres ${p}`, mine.length, `${fmt(statuses)}; slowest ${slowest} ms`]
  }
  const rows: (string | number)[][] = [
    ['what', 'count', 'detail'],
    ['users', USERS, `${USERS / 2} removing old webhooks, 4 planned again, ${CLIENTS} clients sending ${kinds.join(', ')}`],
    ...(['up', 'stopping', 'down', 'starting', 'recovering'] as const).map(byPhase),
    ['failures by kind', answers.filter((a) => a.status !== 200 && a.status !== 302 && a.status !== 303).length, fmt(new Map(kinds.map((k) => [k, answers.filter((a) => a.kind === k && typeof a.status === 'number' && a.status >= 400).length])))],
    ...outages.map((o) => [`outage (${o.how} shutdown)`, 1, `stopped in ${o.stopMs} ms, away ${o.downMs} ms, started in ${o.startMs} ms, every kind of request answered again ${o.recoveredMs} ms later`]),
    ['work open at the first stop', openBefore.total, `jobs ${openBefore.jobs}, checks and plans ${openBefore.works}, removals ${openBefore.tasks}`],
    ['work open at the end', open.total, `drained ${drainMs} ms after the load`],
    ['checks and plans by end', works.length, fmt(worksByEnd)],
    ['jobs by state', jobs.rows.reduce((a, j) => a + j.n, 0), jobs.rows.map((j) => `${j.state}×${j.n}`).join(' ')],
    ['hooks by outcome', world.legacy_registrations!.length, fmt(hooksByOutcome)],
    ['audit events', chain.events, `${chain.intact ? 'chain intact' : 'chain BROKEN'}, ${chain.pending} unsealed`],
    ['invariant violations', violations.length, ''],
  ]
  process.stdout.write(`\n# Postgres restarted under load (${((Date.now() - started) / 1000).toFixed(1)} s)\n${table(rows)}\n`)
})
