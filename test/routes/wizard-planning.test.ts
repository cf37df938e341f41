import { sql } from 'kysely'
import t from 'tap'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { manyReposWorld } from '../helpers/many-repos-world.js'
import { serviceWithGitHub, type Service } from '../helpers/service.js'
import { demoWorld } from '../helpers/simulator.js'
import { signIn } from '../helpers/sign-in.js'
import { csrfOf, planned, planningProgress, view, viewNow } from '../helpers/wizard.js'

// Planning runs as a background job: the page answers at once with how far it has come,
// refreshes itself (without JavaScript) or is updated in place (with it), and shows the plan
// when it is done. One planning per user at a time; a failure says what to do.

const NO_SCRIPT_REFRESH = '<noscript><meta http-equiv="refresh" content="2"></noscript>'
const SCRIPT = '<script src="/assets/progress.js" defer></script>'

/** GitHub requests made with mona's legacy token so far. */
const monaRequests = (service: Service, path?: string) => service.sim.state.apiLog.filter((e) => e.tokenKind === 'legacy' && e.actor === 'mona' && (path === undefined || e.path === path)).length

/** Every distinct progress line the page's script would show, until planning ends. */
async function watch(service: Service, cookie: string): Promise<string[]> {
  const seen: string[] = []
  for (;;) {
    const progress = await planningProgress(service.app, cookie)
    if (!progress.underWay) return seen
    if (progress.text !== null && seen.at(-1) !== progress.text) seen.push(progress.text)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const post = (service: Service, cookie: string, url: string, csrf: string) => service.app.inject({ method: 'POST', url, cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrf } })

t.test('the first visit answers at once with progress, asks GitHub nothing itself, and shows the plan once planning is done', async (t) => {
  const service = await serviceWithGitHub(t, manyReposWorld({ repos: 250, owners: 3, unlisted: 9 }))
  const { app, sim } = service
  const mona = await signIn(app, sim, 1)
  // Any GitHub request the page waited on would take this long.
  sim.state.faults.latencyMs = 1_000
  const before = monaRequests(service)
  const started = Date.now()
  const page = await viewNow(app, mona)
  const took = Date.now() - started
  t.equal(page.statusCode, 200)
  t.ok(took < 1_000, `answered in ${took} ms: no GitHub request waited on`)
  t.equal(monaRequests(service), before, 'GitHub has answered nothing for the page')
  t.match(page.body, 'Planning your migration')
  t.match(page.body, /<p class="progress" role="status" data-progress>(Waiting for its turn|Starting|Reading your repositories: page 1 of 3)<\/p>/)
  t.match(page.body, NO_SCRIPT_REFRESH, 'reloads itself without JavaScript')
  t.match(page.body, SCRIPT, 'updated in place with it')
  t.notMatch(page.body, /<script>|onload=/, 'no inline script: the CSP allows none')
  t.match(String(page.headers['content-security-policy']), "script-src 'self'")
  const script = await app.inject({ url: '/assets/progress.js' })
  t.equal(script.statusCode, 200)
  t.match(String(script.headers['content-type']), 'javascript')
  t.match(script.body, "fetch('/migrate/progress'")

  sim.state.faults.latencyMs = 20
  const seen = await watch(service, mona)
  t.ok(seen.includes('Reading your repositories: page 2 of 3'), `pages of the list shown (${seen.join(' | ')})`)
  t.ok(
    seen.some((s) => /^Looking up 9 repositories you enabled that GitHub did not list: \d of 9$/.test(s)),
    'the lookups of what the list missed',
  )
  t.ok(
    seen.some((s) => /^Checking your owners: \d of 3$/.test(s)),
    'the owners',
  )
  // (Where the App is installed is asked meanwhile, with the App's own credential.)
  const done = await viewNow(app, mona)
  t.match(done.body, 'Install on mona')
  t.match(done.body, 'Install on org-02')
  t.match(done.body, 'mona/deleted-8', 'what GitHub no longer has is listed as gone')
  t.notMatch(done.body, /http-equiv="refresh"|progress\.js|data-progress/, 'done: no more reloading')
  t.same(await planningProgress(app, mona), { underWay: false, state: 'done', text: null })
})

t.test('Look again: the batches planned before with a progress banner, then the new plan', async (t) => {
  const service = await serviceWithGitHub(t)
  const { app, sim } = service
  const mona = await signIn(app, sim, 1)
  const first = await view(app, mona)
  t.match(first.body, 'mona/dotfiles')
  t.equal((await sim.sim.app.inject({ method: 'POST', url: '/_sim/repos/1000/rename', payload: { name: 'config' } })).statusCode, 200)
  sim.state.faults.latencyMs = 100
  const again = await post(service, mona, '/migrate/refresh', csrfOf(first.body))
  t.equal(again.statusCode, 303)
  t.equal(again.headers.location, '/migrate')
  const during = await viewNow(app, mona)
  t.match(during.body, /Looking again on GitHub: <span data-progress>[^<]+<\/span>/)
  t.match(during.body, 'mona/dotfiles', 'what was planned before is still shown')
  t.match(during.body, 'Install on mona', 'and its steps still offered')
  t.match(during.body, NO_SCRIPT_REFRESH)
  sim.state.faults.latencyMs = 0
  const after = await view(app, mona)
  t.match(after.body, 'mona/config')
  t.notMatch(after.body, /mona\/dotfiles|Looking again|http-equiv="refresh"/)
})

t.test('two tabs and clicks while planning runs: one run at a time, and one more after a click during a run', async (t) => {
  const service = await serviceWithGitHub(t)
  const { app, sim, tdb } = service
  const mona = await signIn(app, sim, 1)
  sim.state.faults.latencyMs = 100
  const [one, two] = await Promise.all([viewNow(app, mona), viewNow(app, mona)])
  t.match(one.body, 'Planning your migration')
  t.match(two.body, 'Planning your migration')
  const jobs = async () => (await sql<{ n: number }>`select count(*)::int as n from pgboss.job where name = 'plan'`.execute(tdb.db)).rows[0]!.n
  t.equal(await jobs(), 1, 'the second tab sent no second job')
  while ((await planningProgress(app, mona)).state !== 'running') await new Promise((resolve) => setTimeout(resolve, 5))
  // (The two tabs raced to keep a CSRF secret in the session: a page of now has the one kept.)
  const csrf = csrfOf((await viewNow(app, mona)).body)
  t.equal((await post(service, mona, '/migrate/refresh', csrf)).statusCode, 303)
  t.equal((await post(service, mona, '/migrate/refresh', csrf)).statusCode, 303)
  t.equal(await jobs(), 1, 'clicks during the run send nothing yet')
  sim.state.faults.latencyMs = 0
  await planned(app, mona)
  t.equal(await jobs(), 2, 'one more job, after the run')
  const { run } = await tdb.db.selectFrom('app.background_work').select('run').where('subject_id', '=', 1).executeTakeFirstOrThrow()
  t.equal(run, 2, 'two runs in all: the first, and one for the clicks during it')
  t.equal(monaRequests(service, '/user/repos'), 2, 'her repositories listed once per run')
  t.match((await view(app, mona)).body, 'Install on mona')
})

t.test('planning that fails says so and offers Look again, never a 5xx; looking again plans', async (t) => {
  const lines: string[] = []
  const service = await serviceWithGitHub(t, demoWorld(), { logLevel: 'error', logStream: { write: (line: string) => void lines.push(line) } })
  const { app, sim, tdb } = service
  const mona = await signIn(app, sim, 1)
  // The legacy records (which an operator may replace by views of the vendor's tables) cannot be read.
  await sql`alter table legacy.webhooks rename to webhooks_away`.execute(tdb.db)
  const failed = await view(app, mona)
  t.equal(failed.statusCode, 200)
  t.match(failed.body, 'Planning stopped before it was done: GitHub or this service failed on the way. Look again in a moment')
  t.match(failed.body, /<form method="post" action="\/migrate\/refresh"[\s\S]*Look again on GitHub/)
  t.notMatch(failed.body, /webhooks_away|relation|http-equiv="refresh"/, 'no internals on the page, and no reloading')
  t.match(lines.join(''), 'planning failed', 'the cause is logged')
  t.same(await planningProgress(app, mona), { underWay: false, state: 'failed', text: null })

  await sql`alter table legacy.webhooks_away rename to webhooks`.execute(tdb.db)
  t.equal((await post(service, mona, '/migrate/refresh', csrfOf(failed.body))).statusCode, 303)
  const page = await view(app, mona)
  t.match(page.body, 'Install on mona')

  // Failing again with a plan in hand: the plan stays, the failure is said above it.
  await sql`alter table legacy.webhooks rename to webhooks_away`.execute(tdb.db)
  await post(service, mona, '/migrate/refresh', csrfOf(page.body))
  const again = await view(app, mona)
  t.match(again.body, /<p class="problem">Planning stopped before it was done[^<]*What is below is from the last time.<\/p>/)
  t.match(again.body, 'Install on mona')
  await sql`alter table legacy.webhooks_away rename to webhooks`.execute(tdb.db)
})

t.test("the progress endpoint answers for the signed-in user's own planning only", async (t) => {
  const service = await serviceWithGitHub(t)
  const { app, sim } = service
  const anonymous = await app.inject({ url: '/migrate/progress', headers: { accept: 'application/json' } })
  t.equal(anonymous.statusCode, 401)
  t.match(anonymous.json(), { message: 'Your session has ended. Please sign in again.' })
  const mona = await signIn(app, sim, 1)
  const octo = await signIn(app, sim, 3)
  t.same(await planningProgress(app, octo), { underWay: false, state: null, text: null }, 'octo has asked for nothing')
  sim.state.faults.latencyMs = 100
  await viewNow(app, mona)
  t.match(await planningProgress(app, mona), { underWay: true, text: String })
  t.same(await planningProgress(app, octo), { underWay: false, state: null, text: null }, "mona's planning is not octo's")
  sim.state.faults.latencyMs = 0
  await planned(app, mona)
})

t.test('Look again finds an installation removed on GitHub whose webhook never arrived', async (t) => {
  const service = await serviceWithGitHub(t)
  const { app, sim, tdb } = service
  const mona = await signIn(app, sim, 1)
  const page = await view(app, mona)
  // What a webhook once told us, for an installation GitHub no longer has (its uninstall webhook was lost).
  await tdb.db.insertInto('app.installation').values({ id: 7777, account_id: 1, account_login: 'mona', repository_selection: 'all', suspended_at: null, deleted_at: null }).execute()
  await tdb.db.updateTable('app.batch').set({ installation_id: 7777, state: 'installed' }).where('owner_id', '=', 1).execute()
  t.equal((await post(service, mona, '/migrate/refresh', csrfOf(page.body))).statusCode, 303)
  const after = await view(app, mona)
  t.match(after.body, '<p class="problem">The App is no longer installed on mona.</p>')
  t.match(after.body, 'Install on mona', 'installing is offered again')
  t.match(await tdb.db.selectFrom('app.batch').select(['state', 'installation_id']).where('owner_id', '=', 1).executeTakeFirstOrThrow(), { state: 'planned', installation_id: null })
})
