import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { sql } from 'kysely'
import pino from 'pino'
import t from 'tap'
import { createGitHubLanes } from '../../src/github/lanes.js'
import { reportQuery } from '../../src/migration/before-report.js'
import { sweep } from '../../src/migration/sweep.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { installWithEvents } from '../../src/simulator/install-events.js'
import type { ApiLogEntry, Hook, Org, Repo } from '../../src/simulator/state.js'
import { section } from '../helpers/coverage-world.js'
import { faultsWorld, GONE, HOOK_URL, PEOPLE, REPOINTED, type FaultsPerson } from '../helpers/faults-world.js'
import { table } from '../helpers/resilience.js'
import { random } from '../helpers/seeded-random.js'
import { anotherInstance, githubClientsOf, serviceWithGitHub, type Service } from '../helpers/service.js'
import { codeFor, sessionCookieOf } from '../helpers/sign-in.js'
import { csrfOf, followSetup, formAction, installOnGitHub, viewNow } from '../helpers/wizard.js'

// GitHub at its worst while people migrate (issue 12): five people walk the wizard on two
// instances of the service sharing one database, one installs the App on GitHub by herself and
// the operator's sweep finds her hooks, while GitHub answers 5xx to one request in twenty
// (some DELETEs carried out and their answer lost), refuses some for a secondary rate limit
// with retry-after, slows down in spikes, runs out of every credential's hourly quota for a
// moment, and, as the old hooks are being removed, a legacy token is revoked, an organization
// turns on SAML single sign-on, and repositories are deleted and transferred. Then GitHub
// recovers, an hour passes (parked lanes and runs put off for later are due), people press
// "Check again", the operator sweeps, and every old hook must have its one outcome, explained,
// with GitHub agreeing; nothing deleted that was not the old app's or not covered when it went;
// no 5xx to anyone; GitHub's limits kept: one request in flight per credential, writes within
// the limit, a credential refused for its quota sends nothing more until the quota is back, and
// one refused with retry-after waits that long.

/** GitHub's seconds and minutes are these many ms here (the services' lanes are tuned so, see test/helpers/service.ts). */
const UNIT_MS = 5
const SECONDARY_RETRY_AFTER = 2

/** Every route the service calls: the faults strike any of them. */
const ROUTES = [
  '/user',
  '/user/repos',
  '/user/orgs',
  '/user/installations',
  '/user/installations/{installation_id}/repositories',
  '/user/memberships/orgs/{org}',
  '/orgs/{org}/members',
  '/orgs/{org}/installation',
  '/users/{username}/installation',
  '/app/installations',
  '/app/installations/{installation_id}',
  '/app/installations/{installation_id}/access_tokens',
  '/installation/repositories',
  '/repositories/{repository_id}',
  '/repos/{owner}/{repo}',
  '/repos/{owner}/{repo}/hooks',
  '/repositories/{repository_id}/hooks/{hook_id}',
  '/orgs/{org}/hooks',
  '/orgs/{org}/hooks/{hook_id}',
]

const FAULTS = [
  // Carried out, and the answer lost on the way: the service retries a DELETE GitHub did.
  ...['/repositories/{repository_id}/hooks/{hook_id}', '/orgs/{org}/hooks/{hook_id}'].map((pattern) => ({ method: 'DELETE', pattern, status: 502, rate: 0.05, lost: true })),
  ...ROUTES.map((pattern) => ({ pattern, status: 429, rate: 0.03, retryAfter: SECONDARY_RETRY_AFTER })),
  ...ROUTES.map((pattern, i) => ({ pattern, status: i % 2 === 0 ? 500 : 503, rate: 0.05 })),
]

const TERMINAL = new Set(['removed', 'already_absent', 'skipped_foreign', 'not_covered', 'needs_manual', 'repository_gone'])
const EXPLAINED = new Set(['skipped_foreign', 'not_covered', 'needs_manual', 'repository_gone'])

interface Deletion {
  hookId: number
  url: string
  createdBy: string
  where: string
  covered: boolean
}

interface Disruption {
  what: string
  atMs: number
  /** Old hooks still on GitHub that the disruption could touch, when it struck. */
  openThen: number
}

t.test('GitHub faults mid-run: every old hook terminal and explained, nothing foreign or uncovered deleted, no 5xx, no limit breached', async (t) => {
  const started = Date.now()
  const world = faultsWorld()
  const service = await serviceWithGitHub(t, world, { rateLimitPerMinute: 1_000_000 })
  const second = await anotherInstance(t, service, { rateLimitPerMinute: 1_000_000 })
  const instances = [service.app, second]
  const { sim, tdb } = service
  const { state } = sim
  const db = tdb.db
  const violations: { kind: string; what: string }[] = []
  const violation = (kind: string, what: string) => void violations.push({ kind, what })

  const seed = Date.now() % 1_000_000
  t.comment(`seed ${seed}`)
  state.random = random(seed)
  // One request in flight per credential (any second one is a breach), and writes a minute
  // within GitHub's 80 at this test's time scale (a second is UNIT_MS).
  state.limits = { ...state.limits, concurrentPerToken: 1, writesPerMinute: Math.floor((80 * 1000) / UNIT_MS) }
  const control = async (method: 'PUT' | 'POST' | 'DELETE', url: string, payload?: object) => {
    const res = await sim.sim.app.inject({ method, url: `/_sim${url}`, ...(payload === undefined ? {} : { payload }) })
    if (res.statusCode >= 300) throw new Error(`${method} /_sim${url} answered ${res.statusCode}: ${res.body}`)
  }
  await control('PUT', '/faults', { latencyMs: 3, errors: FAULTS })

  // Every answer of the service to a person, counted by status.
  const answers = new Map<number, number>()
  for (const app of instances) {
    const inject = app.inject.bind(app) as (options: InjectOptions | string) => Promise<LightMyRequestResponse>
    ;(app as { inject: unknown }).inject = async (options: InjectOptions | string) => {
      const res = await inject(options)
      answers.set(res.statusCode, (answers.get(res.statusCode) ?? 0) + 1)
      if (res.statusCode >= 500) violation('5xx to a person', `${typeof options === 'string' ? options : options.url} answered ${res.statusCode}`)
      return res
    }
  }

  // Every hook GitHub deletes, as it was at that moment: whose, where it delivered, and whether
  // an installation of the App covered its repository (or, an organization hook, all of them).
  const recorded = new Set(world.legacy_registrations!.map((r) => r.hook_id))
  const deletions: Deletion[] = []
  const coveredNow = (parent: Repo | Org, kind: Hook['kind']): boolean => {
    const installation = state.installationOn(kind === 'repo' ? (parent as Repo).ownerId : parent.id)
    if (installation === undefined || installation.suspendedAt !== null) return false
    return kind === 'repo' ? state.covers(installation, parent as Repo) : installation.repositorySelection === 'all'
  }
  const watch = (parent: Repo | Org, kind: Hook['kind'], where: () => string) => {
    const hooks = parent.hooks
    const remove = hooks.delete.bind(hooks)
    hooks.delete = (id: number) => {
      const hook = hooks.get(id)
      if (hook !== undefined) deletions.push({ hookId: id, url: hook.url, createdBy: hook.createdBy, where: where(), covered: coveredNow(parent, kind) })
      return remove(id)
    }
  }
  for (const repo of state.repos.values()) watch(repo, 'repo', () => state.fullName(repo))
  for (const org of state.orgs.values()) watch(org, 'org', () => org.login)
  const foreign = [...state.repos.values()].flatMap((r) => [...r.hooks.values()].filter((h) => !recorded.has(h.id)).map((h) => h.id))

  // The disruptions, each struck from inside GitHub as the removal it disrupts is under way:
  // right after GitHub answered the request named (the nth hook deleted, the first hook of an
  // account read or deleted), whatever the machine's pace.
  const disruptions: Disruption[] = []
  const quota = { from: 0, to: 0 }
  const left = (owner: (repoOrOrg: Repo | Org) => boolean): number =>
    [...state.repos.values(), ...state.orgs.values()].filter((p) => !('deleted' in p && p.deleted) && owner(p)).reduce((n, p) => n + [...p.hooks.keys()].filter((id) => recorded.has(id)).length, 0)
  const ownedBy = (login: string) => (p: Repo | Org) => ('ownerId' in p ? state.accountById(p.ownerId)!.login : p.login) === login
  const enabledBy = (id: number) => {
    const hooks = new Set(world.legacy_registrations!.filter((r) => r.github_user_id === id).map((r) => r.hook_id))
    return (p: Repo | Org) => [...p.hooks.keys()].some((h) => hooks.has(h))
  }
  const everyone = () => true
  const hookDeleted = (e: ApiLogEntry) => e.method === 'DELETE' && e.status === 204
  /** A hook of the account's (a repository's or the organization's) read or deleted. */
  const touches = (login: string, e: ApiLogEntry) => {
    const id = /^\/repositories\/(\d+)\/hooks\//.exec(e.path)?.[1]
    return (id !== undefined && state.accountById(state.repos.get(Number(id))!.ownerId)!.login === login) || e.path.startsWith(`/orgs/${login}/hooks/`)
  }
  const onRepoOf = (login: string) => (e: ApiLogEntry) => hookDeleted(e) && touches(login, e)
  let deleted = 0
  const latency = (ms: number) => {
    state.faults.latencyMs = 80
    setTimeout(() => (state.faults.latencyMs = 3), ms)
  }
  const byName = (fullName: string) => state.repoByName(...(fullName.split('/') as [string, string]))!
  const triggers: { what: string; when: (e: ApiLogEntry) => boolean; scope: (p: Repo | Org) => boolean; act: () => void }[] = [
    { what: 'latency spike (80 ms for 400 ms)', when: () => deleted === 1, scope: everyone, act: () => latency(400) },
    { what: "bo's legacy token revoked", when: (e) => hookDeleted(e) && e.actor === 'bo' && e.tokenKind === 'legacy', scope: enabledBy(2), act: () => state.revokeLegacyToken(state.userByLogin('bo')!) },
    {
      // The last of forge's repositories, whose hooks are removed last (a run goes by hook id).
      what: 'forge-16 transferred to hal (no App), forge-17 to mill (App on all), forge-18 deleted',
      when: onRepoOf('forge'),
      scope: ownedBy('forge'),
      act: () => {
        state.transferRepo(byName('forge/forge-16'), state.accountByLogin('hal')!.id)
        state.transferRepo(byName('forge/forge-17'), state.accountByLogin('mill')!.id)
        state.deleteRepo(byName('forge/forge-18'))
      },
    },
    { what: 'vault turns on SAML single sign-on', when: (e) => touches('vault', e), scope: ownedBy('vault'), act: () => void (state.orgs.get(state.accountByLogin('vault')!.id)!.samlSso = true) },
    { what: 'di/di-5 deleted', when: (e) => touches('di', e), scope: ownedBy('di'), act: () => state.deleteRepo(byName('di/di-5')) },
    { what: 'latency spike (80 ms for 400 ms)', when: () => deleted >= 20, scope: everyone, act: () => latency(400) },
    {
      // Last: spent, it puts off every removal under way until the quota is back.
      what: "every credential's hourly quota spent (300 ms)",
      when: () => deleted >= 30 && triggers.length === 1,
      scope: everyone,
      act: () => {
        quota.from = Date.now()
        state.limits.hourlyQuota = 0
        setTimeout(() => {
          state.limits.hourlyQuota = 5000
          quota.to = Date.now()
        }, 300)
      },
    },
  ]
  const record = state.recordApi.bind(state)
  state.recordApi = (entry) => {
    record(entry)
    if (hookDeleted(entry)) deleted++
    for (const trigger of [...triggers]) {
      if (!trigger.when(entry)) continue
      triggers.splice(triggers.indexOf(trigger), 1)
      const hooksLeft = left(trigger.scope)
      trigger.act()
      state.touch()
      disruptions.push({ what: trigger.what, atMs: Date.now() - started, openThen: hooksLeft })
    }
  }

  // Fay installs the App on GitHub by herself, on her account and on mill: no wizard.
  const fay = state.userByLogin('fay')!
  installWithEvents(state, fay.id, 'all', [], fay)
  installWithEvents(state, state.accountByLogin('mill')!.id, 'all', [], fay)

  const wizardPeople = PEOPLE.filter((p) => p.wizard)
  await Promise.all(wizardPeople.map((person, i) => journey(instances[i % 2]!, service, person)))
  // The removals the people asked for go on, disrupted, until nothing is due any more (what
  // waits for later, GitHub having failed it, is for after the recovery).
  const due = async () =>
    Number((await sql<{ n: number }>`select count(*)::int as n from pgboss.job where state = 'active' or (state in ('created', 'retry') and start_after <= now())`.execute(db)).rows[0]!.n)
  const deadline = Date.now() + 60_000
  for (let idle = 0; idle < 3; idle = (await due()) === 0 ? idle + 1 : 0) {
    if (Date.now() > deadline) throw new Error('the removals under way never came to rest')
    await sleep(100)
  }
  // The quota comes back by itself.
  while (quota.from > 0 && quota.to === 0) await sleep(10)
  state.recordApi = record
  for (const trigger of triggers) violation('disruption never struck', trigger.what)

  // GitHub recovers; an hour passes; people look again; the operator sweeps.
  await control('PUT', '/faults', { latencyMs: 0, errors: [] })
  await drained(service, instances)
  for (const [i, person] of wizardPeople.entries()) await lookAgain(instances[i % 2]!, service, person)
  await drained(service, instances)
  const log = pino({ level: 'silent' })
  const lanes = createGitHubLanes(tdb.pool, { writeSpacingMs: UNIT_MS, retryAfterUnitMs: UNIT_MS, secondaryParkMs: 20, maxSecondaryParkMs: 200 }, log)
  t.teardown(() => lanes.close())
  const swept = await sweep(db, githubClientsOf(service, { retryAfterBaseMs: UNIT_MS, lanes }), { all: true }, { dryRun: false, hookUrl: HOOK_URL, report: { planned: () => {}, progress: () => {} } })
  await drained(service, instances)

  // Every old hook: its one outcome, explained, GitHub agreeing; read with the before-state
  // report's own query (its CSV columns), as an operator downloads it.
  const { rows: report } = await tdb.pool.query<{ hook_id: number; kind: string; repository: string | null; owner: string; status: string; reason: string | null }>(reportQuery({ kind: 'all' }, 'csv'))
  const byStatus = new Map<string, number>()
  for (const row of report) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + 1)
  t.equal(report.length, recorded.size, 'the report has every recorded hook')
  for (const row of report) {
    const name = `hook ${row.hook_id} (${row.kind === 'repo' ? row.repository : row.owner})`
    if (!TERMINAL.has(row.status)) violation('hook not terminal', `${name} is ${row.status}`)
    if (EXPLAINED.has(row.status) && (row.reason ?? '').trim() === '') violation('outcome unexplained', `${name} is ${row.status} with no reason`)
    if (row.status === 'needs_manual' && !/https?:\/\/\S+\/settings\/hooks\/\d+/.test(row.reason ?? '')) violation('outcome unexplained', `${name} needs a person, but the reason gives no link: ${row.reason}`)
    // GitHub agrees: gone when removed or already absent, there when kept. A repository deleted
    // takes its hooks along; a removal sent without GitHub confirming it may have happened, as
    // the reason says.
    const hook = state.hookById(row.hook_id)
    const parentRepo = row.kind === 'repo' ? [...state.repos.values()].find((r) => r.hooks.has(row.hook_id)) : undefined
    const onGitHub = hook !== undefined && parentRepo?.deleted !== true
    const maybeGone = /without GitHub confirming it/.test(row.reason ?? '')
    if (['removed', 'already_absent'].includes(row.status) && onGitHub) violation('GitHub disagrees', `${name} is ${row.status}, but GitHub still has it`)
    if (!['removed', 'already_absent', 'repository_gone'].includes(row.status) && hook === undefined && !maybeGone) violation('GitHub disagrees', `${name} is ${row.status}, but GitHub no longer has it`)
  }
  // On the audit log, one outcome each time a hook's removal was planned (a hook kept as not
  // covered is planned again once covered again), and an intent for each attempt.
  // The hooks someone changed or deleted by hand before the migration, each as it must end.
  for (const [names, status] of [[REPOINTED, 'skipped_foreign'], [GONE, 'already_absent']] as const) {
    for (const name of names) {
      const found = report.find((r) => r.repository === name)
      if (found?.status !== status) violation('wrong outcome', `hook ${found?.hook_id} (${name}) is ${found?.status}, not ${status}`)
    }
  }
  const tasks = await db.selectFrom('app.cleanup_task').select(['hook_id', 'state', 'attempts']).execute()
  const events = await db.selectFrom('app.audit_event').select(['hook_id', 'action']).where('action', 'in', ['hook_removal_planned', 'hook_cleanup', 'hook_delete_attempted']).execute()
  for (const task of tasks) {
    const mine = (action: string) => events.filter((e) => e.hook_id === task.hook_id && e.action === action).length
    const [plans, outcomes, intents] = [mine('hook_removal_planned'), mine('hook_cleanup'), mine('hook_delete_attempted')]
    if (outcomes !== plans) violation('audit', `hook ${task.hook_id}: ${outcomes} outcomes on the audit log for ${plans} plans`)
    if (intents !== task.attempts) violation('audit', `hook ${task.hook_id}: ${intents} intents for ${task.attempts} attempts`)
  }

  // Nothing deleted that was not the old app's, or of a repository the App did not cover.
  for (const d of deletions) {
    if (!recorded.has(d.hookId) || !d.url.startsWith(HOOK_URL)) violation('foreign hook deleted', `hook ${d.hookId} on ${d.where} (${d.url}, by ${d.createdBy})`)
    if (!d.covered) violation('uncovered hook deleted', `hook ${d.hookId} on ${d.where}: the App did not cover it when it was deleted`)
  }
  for (const id of foreign) if (state.hookById(id) === undefined && !deletions.some((d) => d.hookId === id)) violation('foreign hook deleted', `hook ${id} is gone`)

  // GitHub's limits: one in flight a credential, writes within the limit, a credential refused
  // for its quota silent until it is back, and one refused with retry-after waiting that long.
  const { concurrent, writes } = state.breaches
  if (concurrent > 0) violation('lane breach', `${concurrent} requests beyond one in flight per credential`)
  if (writes > 0) violation('lane breach', `${writes} writes beyond GitHub's limit a minute`)
  const credential = (e: { actor?: string; tokenKind: string }) => `${e.tokenKind} ${e.actor ?? ''}`
  // The simulator keeps the last 50 breaches, here all of the quota's unless it was hammered.
  const { quota: quotaBreaches, last } = state.breaches
  if (quotaBreaches > last.length) violation('hammering', `${quotaBreaches} requests refused for the quota`)
  const perCredential = new Map<string, number>()
  for (const b of last.filter((b) => b.limit === 'quota')) perCredential.set(credential(b), (perCredential.get(credential(b)) ?? 0) + 1)
  // A person's user tokens are several (one a sign-in), each a lane of its own.
  for (const [who, n] of perCredential) if (n > 1 && !who.startsWith('user ')) violation('hammering', `${who} sent ${n} requests while its quota was spent`)
  let waitedOut = 0
  for (const [i, e] of state.apiLog.entries()) {
    if (e.status !== 429 || e.tokenKind === 'user') continue
    const next = state.apiLog.slice(i + 1).find((n) => credential(n) === credential(e))
    waitedOut++
    if (next !== undefined && next.at.getTime() - e.at.getTime() < SECONDARY_RETRY_AFTER * UNIT_MS) {
      violation('hammering', `${credential(e)} asked again ${next.at.getTime() - e.at.getTime()} ms after a retry-after of ${SECONDARY_RETRY_AFTER} s (${SECONDARY_RETRY_AFTER * UNIT_MS} ms here)`)
    }
  }

  // Every disruption struck while the work it could touch was under way.
  for (const d of disruptions) if (d.openThen === 0) violation('disruption not mid-run', `${d.what}: no old hook it could touch was left when it struck`)

  const statusCount = (pred: (s: number) => boolean) => state.apiLog.filter((e) => pred(e.status)).length
  const rows: (string | number)[][] = [['kind', 'what', 'count']]
  const row = (kind: string, what: string, count: string | number) => rows.push([kind, what, count])
  row('requests', 'to the service (pages, forms, callbacks)', [...answers.values()].reduce((a, b) => a + b, 0))
  row('requests', `answered ${[...answers].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(' ')}`, '')
  row('requests', 'to GitHub (as the simulator saw them)', state.apiLog.length)
  row('failures', 'GitHub 500/503', statusCount((status) => status === 500 || status === 503))
  row('failures', 'GitHub 502, a DELETE carried out, its answer lost', statusCount((status) => status === 502))
  row('failures', `GitHub 429 secondary limit, retry-after ${SECONDARY_RETRY_AFTER} s`, statusCount((status) => status === 429))
  row('failures', 'GitHub 403 quota spent (one a credential)', quotaBreaches)
  row('failures', 'GitHub 401 (a revoked token)', statusCount((status) => status === 401))
  row('failures', 'GitHub 403 other (single sign-on, permissions)', statusCount((status) => status === 403) - quotaBreaches)
  for (const d of disruptions) row('failures', `${d.what}, at ${(d.atMs / 1000).toFixed(1)} s`, `${d.openThen} hooks left`)
  row('hooks', 'recorded (the before-state report)', report.length)
  for (const [status, n] of [...byStatus].sort(([a], [b]) => a.localeCompare(b))) row('hooks', status, n)
  row('hooks', 'deleted on GitHub', deletions.length)
  row('hooks', 'foreign (no record names them), all kept', foreign.length)
  row('hooks', "the operator's sweep: installations, hooks", `${swept.plans.length}, ${swept.plans.reduce((n, p) => n + p.hooks.length, 0)}`)
  row('limits', 'breaches: concurrent, writes', `${concurrent}, ${writes}`)
  row('limits', 'credentials refused for the quota, silent until it was back', perCredential.size)
  row('limits', 'secondary limits waited out (retry-after)', waitedOut)
  row('invariant violations', [...new Set(violations.map((v) => v.kind))].join(', '), violations.length)
  // What became of every hook not simply removed, as the report says it.
  const kept = report.filter((r) => r.status !== 'removed').map((r) => `hook ${r.hook_id} (${r.kind === 'repo' ? r.repository : `${r.owner}, organization`}): ${r.status}${r.reason ? `: ${r.reason}` : ''}`)
  process.stdout.write(`\n# GitHub faults (${((Date.now() - started) / 1000).toFixed(1)} s, seed ${seed})\n${table(rows)}\n\n${kept.join('\n')}\n\ninvariant violations: ${violations.length}\n`)
  for (const v of violations) t.comment(`VIOLATION ${v.kind}: ${v.what}`)
  // What happened to each hook a violation names, for whoever reads a failure.
  for (const id of new Set(violations.flatMap((v) => (/hook (\d+)/.exec(v.what) ?? []).slice(1).map(Number)))) {
    const trail = await db.selectFrom('app.audit_event').select(['at', 'action', 'outcome', 'reason', 'detail']).where('hook_id', '=', id).orderBy('id').execute()
    t.comment(`hook ${id}: ${trail.map((e) => `${e.at.toISOString().slice(17, 23)} ${e.action} ${e.outcome}${e.reason ? ` (${e.reason})` : ''} ${JSON.stringify(e.detail)}`).join('\n  ')}`)
    t.comment(`  GitHub: ${state.apiLog.filter((e) => e.path.includes(`/hooks/${id}`)).map((e) => `${e.at.toISOString().slice(17, 23)} ${e.method} ${e.status} ${e.tokenKind}`).join(', ')}`)
  }
  t.equal(violations.length, 0, 'no invariant violations')
})

/** What a person does on the wizard: sign in, install on each account they own, agree to the removal of the old hooks. */
async function journey(app: FastifyInstance, service: Service, person: FaultsPerson): Promise<void> {
  const { sim } = service
  const cookie = await signedIn(app, service, person)
  for (const owner of [person.login, ...person.owns]) {
    // GitHub failing the check of the installation is said on the page: the person tries again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const here = section((await page(app, cookie)).body, owner)
      if (!here.includes(`Install on ${owner}`)) break
      const res = await press(app, cookie, formAction(here, `Install on ${owner}`))
      if (res.statusCode !== 303) continue
      const back = await followSetup(app, sim, cookie, installOnGitHub(sim, res.headers.location as string, person.login), person.id)
      if (back.statusCode === 302) break
    }
  }
  await agree(app, cookie, person)
}

/**
 * /migrate once the person's planning and coverage checks have ended, as a person who waits for
 * them sees it; the removal of old hooks may go on (at GitHub's pace, or a minute later).
 */
async function page(app: FastifyInstance, cookie: string, timeoutMs = 60_000): Promise<LightMyRequestResponse> {
  const deadline = Date.now() + timeoutMs
  // A first visit starts the planning.
  await viewNow(app, cookie)
  for (;;) {
    const res = await app.inject({ url: '/migrate/progress', cookies: { [SESSION_COOKIE]: cookie }, headers: { accept: 'application/json' } })
    const progress = res.json<{ underWay: boolean; coverage: { underWay: boolean }[] }>()
    if (!progress.underWay && !progress.coverage.some((c) => c.underWay)) return viewNow(app, cookie)
    if (Date.now() > deadline) throw new Error('planning or a coverage check did not end')
    await sleep(10)
  }
}

async function press(app: FastifyInstance, cookie: string, action: string, extra: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const csrf = csrfOf((await viewNow(app, cookie)).body)
  return app.inject({ method: 'POST', url: action, cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrf, ...extra } })
}

/** Signed in, trying again while GitHub does not answer (a page that says so, with no session). */
async function signedIn(app: FastifyInstance, service: Service, person: FaultsPerson): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const login = await app.inject({ url: '/auth/login' })
    const authorize = new URL(login.headers.location as string)
    const code = codeFor(service.sim, authorize, person.id)
    const back = await app.inject({ url: `/auth/callback?code=${code}&state=${authorize.searchParams.get('state')}`, cookies: { [SESSION_COOKIE]: sessionCookieOf(login)! } })
    if (back.statusCode === 302) return sessionCookieOf(back)!
  }
  throw new Error(`${person.login} could not sign in`)
}

/** "Remove N old webhooks", automatically on every account, wherever the page offers it. */
async function agree(app: FastifyInstance, cookie: string, person: FaultsPerson): Promise<void> {
  const forms = (await page(app, cookie)).body.split('<form').slice(1).filter((f) => /Remove \d+ old webhook/.test(f))
  for (const form of forms) {
    const res = await press(app, cookie, /action="([^"]+)"/.exec(form)![1]!, { auto: 'on' })
    if (res.statusCode !== 303) throw new Error(`${person.login}'s Remove answered ${res.statusCode}`)
  }
}

/** After GitHub recovered: "Check again" on every account, then the removal wherever offered. */
async function lookAgain(app: FastifyInstance, service: Service, person: FaultsPerson): Promise<void> {
  const cookie = await signedIn(app, service, person)
  for (const form of (await page(app, cookie)).body.split('<form').slice(1).filter((f) => f.includes('Check again'))) {
    await press(app, cookie, /action="([^"]+)"/.exec(form)![1]!)
  }
  await agree(app, cookie, person)
}

/**
 * Waits until every job has run, an hour passing as often as needed: lanes parked on a rate
 * limit are free again, and runs put off for later are due now.
 */
async function drained(service: Service, instances: FastifyInstance[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const db = service.tdb.db
  for (;;) {
    await service.sim.sim.delivery.settle()
    await sql`update app.github_lane set parked_until = null where parked_until > now()`.execute(db)
    await sql`update pgboss.job set start_after = now() where state in ('created', 'retry') and start_after > now()`.execute(db)
    for (const app of instances) app.queue.wake()
    const { rows } = await sql<{ open: number }>`select count(*)::int as open from pgboss.job where state in ('created', 'retry', 'active')`.execute(db)
    if (rows[0]!.open === 0) return
    if (Date.now() > deadline) throw new Error(`${rows[0]!.open} jobs still open`)
    await sleep(50)
  }
}
