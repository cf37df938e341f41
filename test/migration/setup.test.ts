import { sql } from 'kysely'
import pg from 'pg'
import t, { type Test } from 'tap'
import { createGitHubClients, type GitHubClients } from '../../src/github/clients.js'
import { createOctokitClass, type GitHubOctokit } from '../../src/github/octokit.js'
import type { AddReposJob, Enqueue } from '../../src/migration/add-repos.js'
import { loadWork } from '../../src/migration/background-work.js'
import { installStateKey, issueState, readState, type StatePayload } from '../../src/migration/install-state.js'
import { recordRequest, verifySetup, type PendingSetup, type SetupJobs } from '../../src/migration/setup.js'
import { findLink } from '../../src/migration/setup-link.js'
import { installWithEvents } from '../../src/simulator/install-events.js'
import { TEST_SESSION_SECRET } from '../helpers/server.js'
import { serviceWithGitHub, type Service } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { formAction, press, settled, view } from '../helpers/wizard.js'

// verifySetup, the end of an install, called as /auth/callback calls it once GitHub has said who
// the user is, and recordRequest, as the setup URL calls it back from a request: the races and
// cases a browser cannot line up on purpose.

const KEY = installStateKey(TEST_SESSION_SECRET)
const MONA = { id: 1, login: 'mona' }

interface Setup extends Service {
  github: GitHubClients
  /** mona's own token from a fresh authorization (GitHub's user-to-server token). */
  monaOnGitHub: GitHubOctokit
  cookie: string
  /** The jobs verifySetup queues: adding the rest as `addRepos` says (none expected by default), coverage on the service's queue. */
  jobs(addRepos?: Enqueue): SetupJobs
}

async function setup(t: Test): Promise<Setup> {
  const service = await serviceWithGitHub(t)
  // Only what verifySetup does is looked at: GitHub's webhooks are held back.
  delete service.sim.state.app.webhook_url
  const { app, sim } = service
  const world = sim.state.app
  const github = createGitHubClients(
    { webUrl: sim.url, apiUrl: sim.apiUrl, appId: world.id, appSlug: world.slug, clientId: world.client_id, clientSecret: world.client_secret, privateKey: sim.privateKey, webhookSecret: world.webhook_secret },
    createOctokitClass({ apiUrl: sim.apiUrl, log: app.log }),
  )
  const cookie = await signIn(app, sim, MONA.id)
  await view(app, cookie)
  const jobs = (addRepos: Enqueue = noJobs): SetupJobs => ({ addRepos, coverage: (trx, job, options) => app.queue.send(trx, 'coverage', job, options) })
  return { ...service, github, monaOnGitHub: github.asUser(sim.state.issueUserToken(MONA.id).token), cookie, jobs }
}

/** What pressing "Install on mona" signs into the link. */
async function monaState(s: Setup): Promise<StatePayload> {
  const res = await press(s.app, s.cookie, formAction((await view(s.app, s.cookie)).body, 'Install on mona'))
  const read = readState(KEY, new URL(res.headers.location as string).searchParams.get('state')!)
  if (!read.ok) throw new Error('no valid state in the link')
  return read.payload
}

const noJobs = async (): Promise<void> => {
  throw new Error('no job expected')
}

async function audit(s: Service, action: string) {
  return s.tdb.db.selectFrom('app.audit_event').selectAll().where('action', '=', action).orderBy('id').execute()
}

async function monaBatch(s: Service) {
  return s.tdb.db.selectFrom('app.batch').selectAll().where('owner_id', '=', MONA.id).where('user_id', '=', MONA.id).executeTakeFirstOrThrow()
}

t.test('two completions of one install at the same moment: one verifies, the other finds it done', async (t) => {
  const s = await setup(t)
  const payload = await monaState(s)
  const { installation } = installWithEvents(s.sim.state, MONA.id, 'selected', [1000, 1001, 1002], s.sim.state.userByLogin('mona')!)
  const pending: PendingSetup = { ...payload, installationId: installation.id, setupAction: 'install' }

  // Both get past every check before either spends the state: hold the state's row until
  // both are waiting to spend it, then let them race.
  const holder = new pg.Client({ connectionString: s.tdb.url })
  await holder.connect()
  t.teardown(() => holder.end())
  await holder.query('begin')
  await holder.query('select 1 from app.install_state where nonce = $1 for update', [payload.nonce])
  const both = Promise.all([1, 2].map((n) => verifySetup(s.tdb.db, s.github, s.monaOnGitHub, MONA, pending, s.jobs(), `request-${n}`)))
  const deadline = Date.now() + 20_000
  for (let waiting = 0; waiting < 2; ) {
    if (Date.now() > deadline) throw new Error(`${waiting} of 2 completions reached the claim`)
    await new Promise((resolve) => setTimeout(resolve, 20))
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock' and query like 'update "app"."install_state"%'`.execute(s.tdb.db)
    waiting = rows[0]!.n
  }
  await holder.query('commit')
  const results = await both

  t.same(results.map((r) => r.kind).sort(), ['already', 'verified'], 'one verified, the other lands on it')
  t.same(results.map((r) => ('ownerLogin' in r ? r.ownerLogin : undefined)), ['mona', 'mona'], 'both go back to mona')
  t.equal((await audit(s, 'installation_verified')).length, 1, 'exactly one installation_verified')
  await settled(s)
  t.equal((await audit(s, 'coverage_checked')).length, 1, 'coverage checked once')
  t.match(await monaBatch(s), { state: 'installed', installation_id: installation.id })
  t.match(await s.tdb.db.selectFrom('app.installation').selectAll().execute(), [{ id: installation.id, account_id: MONA.id, account_login: 'mona' }])

  // The spent state with another installation (acme's, which mona can reach): a replay.
  const acme = installWithEvents(s.sim.state, 100, 'all', [], s.sim.state.userByLogin('mona')!).installation
  const replay = await verifySetup(s.tdb.db, s.github, s.monaOnGitHub, MONA, { ...pending, installationId: acme.id }, s.jobs())
  t.same(replay, { kind: 'rejected', status: 409, reason: 'This installation link was already used.' })
  t.match(await monaBatch(s), { state: 'installed', installation_id: installation.id }, 'the batch keeps its installation')
  t.equal((await s.tdb.db.selectFrom('app.installation').selectAll().execute()).length, 1, 'acme is not recorded')
  t.match(await audit(s, 'installation_rejected'), [{ actor_login: 'mona', owner_login: 'mona', installation_id: acme.id, outcome: 'rejected', reason: 'This installation link was already used.', request_id: null }])
})

/** mona installed on GitHub from a link that preselected only dotfiles (as the first 100 of a larger batch would be). */
async function installedFromPartialLink(s: Setup, selection: 'all' | 'selected' = 'selected') {
  const batch = await monaBatch(s)
  const read = readState(KEY, await issueState(s.tdb.db, KEY, batch, [1000]))
  if (!read.ok) throw new Error('no valid state')
  const { installation } = installWithEvents(s.sim.state, MONA.id, selection, selection === 'all' ? [] : [1000], s.sim.state.userByLogin('mona')!)
  const pending: PendingSetup = { ...read.payload, installationId: installation.id, setupAction: 'install' }
  return { batch, installation, pending }
}

for (const requestId of [undefined, 'request-7']) {
  t.test(`what one link could not preselect is added through the API right after the install (${requestId ?? 'no request id'})`, async (t) => {
    const s = await setup(t)
    const { batch, installation, pending } = await installedFromPartialLink(s)
    const jobs: AddReposJob[] = []
    const result = await verifySetup(s.tdb.db, s.github, s.monaOnGitHub, MONA, pending, s.jobs(async (_trx, job) => void jobs.push(job)), requestId)
    t.same(result, { kind: 'verified', ownerLogin: 'mona' })
    t.same(jobs, [{ batchId: batch.id, actor: MONA, ...(requestId === undefined ? {} : { requestId }) }], 'one job queued to add the rest')
    t.match(await monaBatch(s), { state: 'adding', installation_id: installation.id })
    const repos = await s.tdb.db.selectFrom('app.batch_repo').select(['repo_id', 'coverage', 'add_state']).where('batch_id', '=', batch.id).orderBy('repo_id').execute()
    t.same(repos, [
      { repo_id: 1000, coverage: 'unknown', add_state: null },
      { repo_id: 1001, coverage: 'unknown', add_state: 'pending' },
      { repo_id: 1002, coverage: 'unknown', add_state: 'pending' },
    ], 'the job adding them asks for the coverage check when it is done')
    t.same(await loadWork(s.tdb.db, 'coverage', [MONA.id]), [], 'no check asked for meanwhile')
    t.match(await audit(s, 'repos_add_started'), [{ actor_login: 'mona', owner_login: 'mona', installation_id: installation.id, request_id: requestId ?? null, detail: { repos: 2 } }])
  })
}

t.test('the rest of a larger batch is queued with the installation: GitHub failing the check, or a reload, loses none of it', async (t) => {
  const s = await setup(t)
  const { batch, pending } = await installedFromPartialLink(s)
  s.sim.state.faults.errors = [{ method: 'GET', pattern: '/installation/repositories', status: 502, rate: 1 }]
  const jobs: AddReposJob[] = []
  const enqueue = s.jobs(async (_trx, job) => void jobs.push(job))
  t.same(await verifySetup(s.tdb.db, s.github, s.monaOnGitHub, MONA, pending, enqueue), { kind: 'verified', ownerLogin: 'mona' })
  t.same(await verifySetup(s.tdb.db, s.github, s.monaOnGitHub, MONA, pending, enqueue), { kind: 'already', ownerLogin: 'mona' }, 'a reload')
  t.equal(jobs.length, 1, 'queued once, with the installation')
  const states = await s.tdb.db.selectFrom('app.batch_repo').select(['repo_id', 'add_state']).where('batch_id', '=', batch.id).orderBy('repo_id').execute()
  t.same(states.map((r) => r.add_state), [null, 'pending', 'pending'])

  // Picked "all repositories" on GitHub instead: nothing is left to add.
  const again = await setup(t)
  const all = await installedFromPartialLink(again, 'all')
  const none: AddReposJob[] = []
  await verifySetup(again.tdb.db, again.github, again.monaOnGitHub, MONA, all.pending, again.jobs(async (_trx, job) => void none.push(job)))
  t.same(none, [])
  t.match(await monaBatch(again), { state: 'installed' })
})

t.test('an installation GitHub lists with no account (an enterprise installation) is not taken for the owner', async (t) => {
  const s = await setup(t)
  const payload = await monaState(s)
  // GitHub's list, one page, as octokit's paginate.iterator hands it over.
  const listing = async function* () {
    yield { data: [{ id: 777, account: null, repository_selection: 'all' }] }
  }
  const stub = { paginate: { iterator: listing } } as unknown as GitHubOctokit
  const result = await verifySetup(s.tdb.db, s.github, stub, MONA, { ...payload, installationId: 777, setupAction: 'install' }, s.jobs())
  t.same(result, { kind: 'rejected', status: 403, reason: 'Installation 777 is on another account, not on mona.' })
  t.match(await monaBatch(s), { state: 'link_issued', installation_id: null })
  t.same(await s.tdb.db.selectFrom('app.installation').selectAll().execute(), [])
})

t.test('a request recorded twice at once (a double click): one is on record, the other finds the link spent', async (t) => {
  const s = await setup(t)
  const acme = await s.tdb.db.selectFrom('app.batch').selectAll().where('owner_login', '=', 'acme').where('user_id', '=', MONA.id).executeTakeFirstOrThrow()
  const read = readState(KEY, await issueState(s.tdb.db, KEY, acme, []))
  if (!read.ok) throw new Error('no valid state')
  const link = await findLink(s.tdb.db, read.payload.nonce)
  if (link === undefined) throw new Error('the link has no row')

  const results = await Promise.all([1, 2].map((n) => recordRequest(s.tdb.db, s.github, MONA, link, `request-${n}`)))
  t.same(results.map((r) => r.kind).sort(), ['recorded', 'refused'])
  t.same(results.find((r) => r.kind === 'refused'), { kind: 'refused', refusal: 'used_link', status: 409, reason: 'This installation link was already used. Your migration page shows where things stand.' })
  t.same(results.find((r) => r.kind === 'recorded'), { kind: 'recorded', ownerLogin: 'acme' })
  t.match(await s.tdb.db.selectFrom('app.batch').selectAll().where('id', '=', acme.id).executeTakeFirstOrThrow(), { state: 'request_pending', installation_id: null, approvers: Array })
  t.match(await audit(s, 'request_pending'), [{ actor_login: 'mona', owner_id: acme.owner_id, owner_login: 'acme', outcome: 'ok', reason: 'waiting for an owner of acme to approve', request_id: /^request-[12]$/ }])
  t.equal((await audit(s, 'request_pending')).length, 1, 'recorded once')
})
