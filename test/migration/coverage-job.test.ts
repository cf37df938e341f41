import pino from 'pino'
import t, { type Test } from 'tap'
import type { GitHubClients } from '../../src/github/clients.js'
import { loadWork } from '../../src/migration/background-work.js'
import { requestCoverage, runCoverageJob, type CoverageJob, type SendCoverage } from '../../src/migration/coverage-job.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { githubClientsOf, serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld } from '../helpers/simulator.js'
import { formAction, press, settled, view, viewNow } from '../helpers/wizard.js'

// Checking an owner's coverage as a job: "Check again" answers at once, the page shows the check
// waiting, then how far it has come, then its result in its place; one run per owner at a time.

const mona = { kind: 'user' as const, githubId: 1, login: 'mona' }

/** mona with the App on her account (dotfiles and site only), her plan made. */
async function monaPlanned(t: Test) {
  const world = demoWorld()
  world.installations = [{ id: 500, account: 'mona', repository_selection: 'selected', repositories: [1000, 1001] }]
  const service = await serviceWithGitHub(t, world)
  const cookie = await signIn(service.app, service.sim, 1)
  await view(service.app, cookie)
  await settled(service)
  return { service, cookie }
}
const monaSection = (body: string) => body.slice(body.indexOf('id="owner-mona"'), body.indexOf('</section>', body.indexOf('id="owner-mona"')))

t.test('"Check again" answers at once; the page shows the check under way, refreshing itself, and then its result in its place', async (t) => {
  const { service, cookie } = await monaPlanned(t)
  const { app, sim } = service
  // GitHub is slow today: the check takes a while.
  sim.state.faults.latencyMs = 150
  const pressed = await press(app, cookie, formAction(monaSection((await view(app, cookie)).body), 'Check again'))
  t.equal(pressed.statusCode, 303)
  t.equal(pressed.headers.location, '/migrate#owner-mona')
  const during = (await viewNow(app, cookie)).body
  t.match(monaSection(during), /<p class="progress" role="status"><span data-coverage-progress="1">(The coverage check on mona is waiting for its turn|Checking coverage on mona[^<]*)<\/span>\. This page updates by itself\.<\/p>/)
  t.notMatch(monaSection(during), 'Check again', 'no second check while one is under way')
  t.match(during, '<noscript><meta http-equiv="refresh" content="2"></noscript>', 'the page refreshes itself without JavaScript')
  t.match(during, '<script src="/assets/progress.js" defer></script>', 'and updates in place with it')
  const progress = (await app.inject({ url: '/migrate/progress', cookies: { [SESSION_COOKIE]: cookie }, headers: { accept: 'application/json' } })).json()
  t.match(progress.coverage, [{ ownerId: 1, ownerLogin: 'mona', underWay: true, text: /mona/ }, { ownerId: 100, underWay: false, text: null }, { ownerId: 101, underWay: false, text: null }], "the page's updates say the same")
  sim.state.faults.latencyMs = 0
  await settled(service)
  const after = (await view(app, cookie)).body
  t.notMatch(after, 'data-coverage-progress')
  t.notMatch(after, 'http-equiv="refresh"')
  t.match(monaSection(after), /Coverage: 2 covered, 1 not covered[\s\S]*Check again/)
  const [work] = await loadWork(service.tdb.db, 'coverage', [1])
  t.match(work, { state: 'done', outcome: 'checked' })
  const done = (await app.inject({ url: '/migrate/progress', cookies: { [SESSION_COOKIE]: cookie }, headers: { accept: 'application/json' } })).json()
  t.match(done.coverage, [{ ownerId: 1, underWay: false, text: null }])
})

t.test('requests while a check waits make no second job; one while it runs is followed by one more run', async (t) => {
  const { service } = await monaPlanned(t)
  const { db } = service.tdb
  const sent: CoverageJob[] = []
  const send: SendCoverage = async (_trx, job, options) => {
    sent.push(job)
    t.same(options.singletonKey, '1', 'keyed by the owner')
  }
  const job: CoverageJob = { ownerId: 1, actor: mona }
  const request = () => db.transaction().execute((trx) => requestCoverage(trx, send, job))
  t.equal(await request(), true)
  t.equal(await request(), false, 'the waiting one will do')
  t.equal(sent.length, 1)
  const before = (await db.selectFrom('app.audit_event').select('id').where('action', '=', 'coverage_checked').execute()).length
  // Asked again while it runs (a webhook arrives mid-check): the run ends by sending one more.
  const github = githubClientsOf(service)
  const asking: GitHubClients = {
    ...github,
    asInstallation: async (id) => {
      t.equal(await request(), false, 'asked during the run')
      return github.asInstallation(id)
    },
  }
  await runCoverageJob(db, asking, { coverage: send, cleanup: async () => {} }, pino({ level: 'silent' }), job)
  t.equal(sent.length, 2, 'one more run sent when this one ended')
  t.match((await loadWork(db, 'coverage', [1]))[0], { state: 'queued' })
  t.equal((await db.selectFrom('app.audit_event').select('id').where('action', '=', 'coverage_checked').execute()).length, before + 1)
})

t.test('a check this service fails at is said on the page, for a person to try again; the cause goes to the log only', async (t) => {
  const { service, cookie } = await monaPlanned(t)
  const { db } = service.tdb
  const lines: string[] = []
  const log = pino({ level: 'error' }, { write: (line: string) => void lines.push(line) })
  const broken: GitHubClients = {
    ...githubClientsOf(service),
    asInstallation: async () => {
      throw new TypeError('a defect in this service')
    },
  }
  await db.transaction().execute((trx) => requestCoverage(trx, async () => {}, { ownerId: 1, actor: mona }))
  await runCoverageJob(db, broken, { coverage: async () => {}, cleanup: async () => {} }, log, { ownerId: 1, actor: mona })
  t.match((await loadWork(db, 'coverage', [1]))[0], { state: 'failed', message: /stopped before it was done/ })
  t.match(lines.join(''), /coverage check failed[\s\S]*a defect in this service|a defect in this service[\s\S]*coverage check failed/)
  const page = monaSection((await view(service.app, cookie)).body)
  t.match(page, '<p class="problem">The coverage check stopped before it was done: this service failed on the way. Check again in a moment; if it keeps happening, contact support.</p>')
  t.notMatch(page, 'a defect in this service')
  t.match(page, 'Check again', 'offered again')
})
