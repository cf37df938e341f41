import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { verifyAuditChain } from '../../src/migration/audit.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { crowdWorld, FOREIGN_HOOK_URL } from '../bench/crowd-world.js'
import { answers, breachesOf, counted, strictGitHub } from '../helpers/crowd.js'
import { table } from '../helpers/resilience.js'
import { anotherInstance, serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { csrfOf, followSetup, installOnGitHub, settled, workUnderWay } from '../helpers/wizard.js'

// The crowd (issue 12): 200 vendor users migrating at once through the HTTP wizard, on two
// instances of the service that share one database, against the simulator at its strictest
// (one request in flight per credential). Each user does what their page offers, one request
// after the other and each on the other instance than the last, as a browser behind a load
// balancer would: sign in, wait for the plan, install on each owner they can (or ask its
// owners, who approve on GitHub), add what is missing, agree to remove the old webhooks, and
// wait until every owner of theirs says Done. Then, against the database and /_sim/state:
// every old webhook of a covered repository gone and removed once, no other hook touched, no
// 5xx, no breach of GitHub's limits, and the audit chain intact.

const USERS = 200
const ORGS = 10
/** GitHub answers a few ms late: a credential's requests would overlap if the service let them. */
const LATENCY_MS = 5
/**
 * How long a page waits before it looks again at work under way: its script asks for the
 * progress every second, and reloads once the work has ended; without JavaScript (every other
 * user here) it reloads itself every two seconds. A page waiting for an owner's approval is
 * reloaded as often.
 */
const SCRIPT_POLL_MS = 1_000
const RELOAD_MS = 2_000
/** A user not Done by then is a violation (all were Done in 80 to 120 s on this 2-core machine while other work ran). */
const DEADLINE_MS = 150_000
// Above tap's 120 s a file, so that a busy machine fails on what the table says rather than a timeout.
t.setTimeout(240_000)

interface Owner {
  login: string
  done: boolean
  /** The buttons the section offers: form action and label. */
  forms: { action: string; label: string }[]
}

/** The page's owners, each with its buttons and whether it says Done. */
function ownersOf(body: string): Owner[] {
  return body
    .split('<section class="batch')
    .slice(1)
    .map((part) => part.slice(0, part.indexOf('</section>')))
    .filter((section) => section.includes('id="owner-'))
    .map((section) => ({
      login: /id="owner-([^"]+)"/.exec(section)![1]!,
      done: section.includes('<span class="status ok">Done</span>'),
      forms: [...section.matchAll(/<form method="post" action="([^"]+)"[\s\S]*?<button type="submit"[^>]*>([^<]+)<\/button>/g)].map((m) => ({ action: m[1]!, label: m[2]! })),
    }))
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Whether the page says work of the user's is under way (planning, a check, adding, removing). */
const working = (body: string): boolean => /http-equiv="refresh"|(updates|refreshes) by itself/i.test(body)

t.test(`${USERS} users migrate at once through two instances on one database: all Done, no 5xx, no breach`, async (t) => {
  const started = Date.now()
  const world = crowdWorld({ users: USERS, orgs: ORGS, personalRepos: 2, orgReposPerUser: 1, foreignHookEvery: 5 })
  // Sign-in and the setup callback are limited per client address, and every request here
  // comes from one: 200 people would come from 200.
  const options = { rateLimitPerMinute: 1_000_000 }
  // Production's pool of 10 connections for each instance.
  const service = await serviceWithGitHub(t, world, options, { poolMax: 10 })
  const { sim, tdb } = service
  strictGitHub(sim, LATENCY_MS)
  const seen = answers()
  const instances = [counted(service.app, seen), counted(await anotherInstance(t, service, options, { poolMax: 10 }), seen)]

  const legacyHooks = new Map(world.legacy_registrations!.map((r) => [r.hook_id, r]))
  const foreignHooks = world.repos.flatMap((r) => (r.hooks ?? []).filter((h) => h.url === FOREIGN_HOOK_URL).map((h) => h.id))
  const admins = new Map(world.orgs!.map((o) => [o.login, Object.entries(o.members).find(([, role]) => role === 'admin')![0]]))
  const steps = new Map<string, number>()
  const step = (label: string): void => void steps.set(label, (steps.get(label) ?? 0) + 1)
  const stuck: string[] = []
  /** A button a page offered, refused when pressed: what the answer said. */
  const refusals = new Map<string, number>()
  const refused = (res: LightMyRequestResponse): void => {
    const said = `${res.statusCode} ${/<h1>[^<]*<\/h1>\s*<p>([^<]*)/.exec(res.body)?.[1] ?? ''}`
    refusals.set(said, (refusals.get(said) ?? 0) + 1)
  }
  let allDone = false

  // The owners of the organizations, approving on GitHub whatever their members asked for, as
  // they come by.
  const approving = (async () => {
    while (!allDone) {
      for (const request of [...sim.state.requests.values()]) {
        const org = sim.state.accountById(request.accountId)!.login
        const res = await sim.sim.app.inject({ method: 'POST', url: `/_sim/requests/${request.id}/approve`, payload: { approver: admins.get(org)! } })
        if (res.statusCode !== 200) throw new Error(`approving request ${request.id} answered ${res.statusCode}`)
        step('a request approved on GitHub')
      }
      await pause(RELOAD_MS)
    }
  })()

  const migrate = async (user: (typeof world.users)[number], i: number): Promise<void> => {
    let turn = i
    const script = i % 2 === 0
    const next = (): FastifyInstance => instances[turn++ % 2]!
    const cookie = await signIn(next(), sim, user.id)
    const get = (url: string): Promise<LightMyRequestResponse> => next().inject({ url, cookies: { [SESSION_COOKIE]: cookie } })
    const post = (action: string, csrf: string, payload: Record<string, string> = {}) => next().inject({ method: 'POST', url: action, cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrf, ...payload } })
    const deadline = started + DEADLINE_MS
    for (;;) {
      if (Date.now() > deadline) {
        stuck.push(`${user.login}: ${ownersOf((await get('/migrate')).body).map((o) => `${o.login} ${o.done ? 'Done' : o.forms.map((f) => f.label).join('/') || 'waiting'}`).join(', ')}`)
        return
      }
      const page = await get('/migrate')
      if (page.statusCode !== 200 || (working(page.body) && !script)) {
        await pause(RELOAD_MS)
        continue
      }
      if (working(page.body)) {
        // As the page's script: the progress, every second, until what runs has ended.
        do await pause(SCRIPT_POLL_MS)
        while (await workUnderWay(next(), cookie).catch(() => true))
        continue
      }
      const owners = ownersOf(page.body)
      if (owners.length > 0 && owners.every((o) => o.done)) return
      // The first thing the page offers: removing old webhooks (agreeing for every owner to
      // come), installing or asking, adding what is missing.
      const remove = owners.flatMap((o) => o.forms).find((f) => /^Remove \d+ old webhooks?$/.test(f.label))
      const install = owners.flatMap((o) => o.forms.filter((f) => /^(Install on|Ask the owners of|Install or ask the owners of) /.test(f.label)).map((f) => ({ ...f, owner: o.login })))[0]
      const add = owners.flatMap((o) => o.forms).find((f) => /^Add the \d+ missing/.test(f.label))
      const csrf = csrfOf(page.body)
      if (remove !== undefined) {
        step('remove old webhooks')
        const res = await post(remove.action, csrf, { auto: 'on' })
        if (res.statusCode !== 303) refused(res)
      } else if (install !== undefined) {
        step(install.label.startsWith('Install') ? 'install' : 'ask the owners')
        const toGitHub = await post(install.action, csrf)
        if (toGitHub.statusCode !== 303) {
          refused(toGitHub)
          continue
        }
        const back = await followSetup(next(), sim, cookie, installOnGitHub(sim, toGitHub.headers.location as string, user.login), user.id)
        if (back.statusCode >= 400) refused(back)
      } else if (add !== undefined) {
        step('add the missing repositories')
        const res = await post(add.action, csrf)
        if (res.statusCode !== 303) refused(res)
      } else {
        // Waiting for an owner to approve, or for GitHub's webhook.
        await pause(RELOAD_MS)
      }
    }
  }
  await Promise.all(world.users.map(migrate))
  const journeyMs = Date.now() - started
  allDone = true
  await approving
  await settled(service, 30_000)

  // The world afterwards.
  const violations: string[] = []
  const violation = (what: string): void => void violations.push(what)
  for (const s of stuck) violation(`not Done: ${s}`)
  for (const [said, n] of refusals) violation(`a button the page offered was refused ×${n}: ${said}`)
  const state = (await (await fetch(`${sim.url}/_sim/state`)).json()) as {
    repos: { id: number; hooks: { id: number; url: string }[] }[]
    orgs: { login: string; hooks: { id: number }[] }[]
    installations: { account: string; repositories: { id: number }[] }[]
  }
  const present = new Set([...state.repos.flatMap((r) => r.hooks.map((h) => h.id)), ...state.orgs.flatMap((o) => o.hooks.map((h) => h.id))])
  const covered = new Set(state.installations.flatMap((i) => i.repositories.map((r) => r.id)))
  const tasks = await tdb.db.selectFrom('app.cleanup_task').select(['hook_id', 'state']).execute()
  const taskOf = new Map(tasks.map((task) => [task.hook_id, task.state]))
  const outcomes = await tdb.db.selectFrom('app.audit_event').select(['hook_id', 'outcome']).where('action', '=', 'hook_cleanup').execute()
  const hooksByOutcome = new Map<string, number>()
  for (const [hookId, record] of legacyHooks) {
    const mine = outcomes.filter((o) => o.hook_id === hookId)
    const outcome = taskOf.get(hookId) ?? 'no task'
    hooksByOutcome.set(outcome, (hooksByOutcome.get(outcome) ?? 0) + 1)
    if (typeof record.repo_id === 'number' && !covered.has(record.repo_id)) violation(`hook ${hookId}: its repository ${record.repo_id} is not covered`)
    if (present.has(hookId)) violation(`hook ${hookId}: still on GitHub (${outcome})`)
    if (outcome !== 'removed') violation(`hook ${hookId}: ${outcome}, not removed`)
    if (mine.length !== 1 || mine[0]!.outcome !== 'removed') violation(`hook ${hookId}: ${mine.length} outcomes on the record (${mine.map((o) => o.outcome).join(', ')})`)
  }
  for (const hookId of foreignHooks) if (!present.has(hookId)) violation(`hook ${hookId} of another integration was deleted`)
  hooksByOutcome.set('another integration’s, kept', foreignHooks.filter((id) => present.has(id)).length)
  // GitHub's side of it: each old webhook deleted by exactly one DELETE it took.
  const deletes = sim.state.apiLog.filter((e) => e.method === 'DELETE' && /\/hooks\/\d+$/.test(e.path))
  const deleted = new Map<number, number>()
  for (const e of deletes) if (e.status === 204) deleted.set(Number(/\d+$/.exec(e.path)![0]), (deleted.get(Number(/\d+$/.exec(e.path)![0])) ?? 0) + 1)
  for (const [hookId, n] of deleted) if (n !== 1 || !legacyHooks.has(hookId)) violation(`hook ${hookId} deleted ${n} times on GitHub${legacyHooks.has(hookId) ? '' : ', and it is not an old webhook'}`)
  if (deleted.size !== legacyHooks.size) violation(`${deleted.size} hooks deleted on GitHub for ${legacyHooks.size} old webhooks`)
  if (seen.serverErrors > 0) violation(`${seen.serverErrors} answers 5xx`)
  const deliveries = sim.state.deliveries
  const failedDeliveries = deliveries.filter((d) => d.status === null || d.status >= 300)
  if (failedDeliveries.length > 0) violation(`${failedDeliveries.length} webhook deliveries not taken`)
  const breaches = breachesOf(sim)
  if (breaches.total > 0) violation(`${breaches.total} breaches of GitHub's limits (${JSON.stringify(breaches)})`)
  const chain = await verifyAuditChain(tdb.db)
  if (!chain.intact) violation(`the audit chain is broken at #${chain.brokenAt}: ${chain.reason}`)
  const unsealed = chain.pending

  t.equal(violations.length, 0, 'no invariant violations')
  for (const v of violations.slice(0, 40)) t.comment(`VIOLATION ${v}`)
  const fmt = (m: Map<number | string, number>) => [...m].sort(([a], [b]) => String(a).localeCompare(String(b))).map(([k, n]) => `${k}×${n}`).join(' ')
  const rows: (string | number)[][] = [
    ['what', 'count', 'detail'],
    ['users', USERS, `${ORGS} organizations, 2 instances, GitHub ${LATENCY_MS} ms late, 1 request in flight per credential`],
    ['reached Done', USERS - stuck.length, `in ${(journeyMs / 1000).toFixed(1)} s`],
    ['requests', seen.total, fmt(seen.byStatus)],
    ['steps taken', [...steps.values()].reduce((a, b) => a + b, 0), fmt(steps)],
    ['failures (5xx)', seen.serverErrors, ''],
    ['buttons refused (4xx)', [...refusals.values()].reduce((a, b) => a + b, 0), fmt(refusals)],
    ['webhook deliveries', deliveries.length, `${failedDeliveries.length} not taken`],
    ['GitHub API calls', sim.state.apiLog.length, `${deletes.length} hook DELETEs`],
    ['breaches of GitHub limits', breaches.total, `concurrent ${breaches.concurrent}, writes ${breaches.writes}, quota ${breaches.quota}`],
    ['hooks by outcome', legacyHooks.size + foreignHooks.length, fmt(hooksByOutcome)],
    ['audit events', chain.events, `${chain.intact ? 'chain intact' : 'chain BROKEN'}, ${unsealed} unsealed`],
    ['invariant violations', violations.length, ''],
  ]
  process.stdout.write(`\n# crowd to Done (${((Date.now() - started) / 1000).toFixed(1)} s)\n${table(rows)}\n`)
})
