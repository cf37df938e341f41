import { sql, type Kysely } from 'kysely'
import pino from 'pino'
import t, { type Test } from 'tap'
import type { Database } from '../../src/db/database.js'
import { createGitHubClients, type GitHubClients } from '../../src/github/clients.js'
import { createOctokitClass } from '../../src/github/octokit.js'
import { addRepos, startAdding, type AddOptions, type AddReposJob, type Enqueue } from '../../src/migration/add-repos.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import type { World } from '../../src/simulator/world.js'
import { loadBatch } from '../../src/migration/plan-store.js'
import { batchView } from '../../src/routes/wizard-page.js'
import { serviceWithGitHub, type Service } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld } from '../helpers/simulator.js'
import { formAction, press, settled, view } from '../helpers/wizard.js'

/** startAdding in a transaction of its own, as the wizard's click runs it. */
function startIn(db: Kysely<Database>, ...rest: Parameters<typeof startAdding> extends [unknown, ...infer R] ? R : never): Promise<boolean> {
  return db.transaction().execute((trx) => startAdding(trx, ...rest))
}

// Adding repositories to an existing installation with the user's legacy token: started once
// (whatever the number of clicks), each repository recorded as it lands, a job tried again
// doing only what is left, what GitHub refuses for one repository told apart from GitHub
// refusing the legacy token altogether (then: the settings page), and failures that are
// worth trying again left for the queue to retry.

const mona = { id: 1, login: 'mona' }

/** The App installed on mona's account (dotfiles only) and on acme (api only). */
function world(): World {
  const w = demoWorld()
  w.installations = [
    { id: 500, account: 'mona', repository_selection: 'selected', repositories: [1000] },
    { id: 501, account: 'acme', repository_selection: 'selected', repositories: [1100] },
  ]
  return w
}

function clientsOf(service: Service, w: World, retries?: number): GitHubClients {
  const GitHub = createOctokitClass({ apiUrl: service.sim.apiUrl, log: pino({ level: 'silent' }) as never, ...(retries === undefined ? {} : { retries }) })
  return createGitHubClients(
    {
      webUrl: service.sim.url,
      apiUrl: service.sim.apiUrl,
      appId: w.app.id,
      appSlug: w.app.slug,
      clientId: w.app.client_id,
      clientSecret: w.app.client_secret,
      privateKey: service.sim.privateKey,
      webhookSecret: w.app.webhook_secret,
    },
    GitHub,
  )
}

interface Setup {
  service: Service
  github: GitHubClients
  queued: AddReposJob[]
  enqueue: Enqueue
  /** For addRepos: pieces of 100, each next piece collected in `queued`; coverage checked by the service. */
  options: AddOptions
  batchOf(owner: string, userId?: number): Promise<{ id: number; state: string; state_reason: string | null }>
  states(batchId: number): Promise<[number, string | null, string | null][]>
  audit(action: string): Promise<{ outcome: string; reason: string | null; repo_id: number | null; detail: unknown }[]>
  puts(): number
}

/** The service planned for mona (and octo when asked); jobs are collected, not run, so each test runs them itself. */
async function setUp(t: Test, signInAs: number[] = [1], w = world()): Promise<Setup> {
  const service = await serviceWithGitHub(t, w)
  for (const id of signInAs) await view(service.app, await signIn(service.app, service.sim, id))
  const queued: AddReposJob[] = []
  const { db } = service.tdb
  return {
    service,
    github: clientsOf(service, w, 0),
    queued,
    enqueue: async (_trx, job) => {
      queued.push(job)
    },
    options: {
      pieceSize: 100,
      leaseSeconds: 600,
      enqueue: async (_trx, job) => queued.push(job),
      // The coverage check at the end runs on the service's queue, as it would in production.
      coverage: (trx, job, options) => service.app.queue.send(trx, 'coverage', job, options),
      wake: () => service.app.queue.wake(),
    },
    batchOf: async (owner, userId = 1) => db.selectFrom('app.batch').select(['id', 'state', 'state_reason']).where('owner_login', '=', owner).where('user_id', '=', userId).executeTakeFirstOrThrow(),
    states: async (batchId) =>
      (await db.selectFrom('app.batch_repo').select(['repo_id', 'add_state', 'add_reason']).where('batch_id', '=', batchId).orderBy('repo_name').execute()).map((r) => [r.repo_id, r.add_state, r.add_reason]),
    audit: async (action) => db.selectFrom('app.audit_event').select(['outcome', 'reason', 'repo_id', 'detail']).where('action', '=', action).orderBy('id').execute(),
    puts: () => service.sim.state.apiLog.filter((e) => e.method === 'PUT' && e.path.startsWith('/user/installations/')).length,
  }
}

t.test('startAdding: once per batch at a time, only with an installation, only with something to add', async (t) => {
  const s = await setUp(t)
  const { db } = s.service.tdb
  const own = await s.batchOf('mona')
  const job = { batchId: own.id, actor: mona, requestId: 'req-1' }
  t.equal(await startIn(db, s.enqueue, own.id, [], job), false, 'nothing to add')
  t.equal(await startIn(db, s.enqueue, own.id, [1001, 1002], job), true)
  t.equal(await startIn(db, s.enqueue, own.id, [1001, 1002], job), false, 'already adding')
  t.same(s.queued, [job], 'one job')
  t.same(await s.states(own.id), [
    [1000, null, null],
    [1002, 'pending', null],
    [1001, 'pending', null],
  ])
  t.match(await s.audit('repos_add_started'), [{ outcome: 'ok', detail: { repos: 2 } }])

  const widgets = await s.batchOf('widgets')
  t.equal(await startIn(db, s.enqueue, widgets.id, [1200], { ...job, batchId: widgets.id }), false, 'no installation on widgets')
  t.equal(s.queued.length, 1)
  t.equal((await s.audit('repos_add_started')).length, 1)
})

t.test('addRepos: each repository added and recorded, then coverage; a job run again after a crash does only what is left', async (t) => {
  const s = await setUp(t)
  const { db } = s.service.tdb
  const own = await s.batchOf('mona')
  const job = { batchId: own.id, actor: mona }
  await startIn(db, s.enqueue, own.id, [1001, 1002], job)
  // A first run added new-name on GitHub and recorded it, then the process died.
  await s.github.asUser('gho_legacy_mona_0001').request('PUT /user/installations/{installation_id}/repositories/{repository_id}', { installation_id: 500, repository_id: 1002 })
  await db.updateTable('app.batch_repo').set({ add_state: 'added' }).where('batch_id', '=', own.id).where('repo_id', '=', 1002).execute()
  const before = s.puts()
  await addRepos(db, s.github, job, s.options)
  t.equal(s.puts() - before, 1, 'only site is PUT')
  t.same(await s.states(own.id), [
    [1000, null, null],
    [1002, 'added', null],
    [1001, 'added', null],
  ])
  t.match(await s.batchOf('mona'), { state: 'installed' })
  t.match(await s.audit('repo_added'), [{ repo_id: 1001, outcome: 'ok' }])
  t.match(await s.audit('repos_add_finished'), [{ outcome: 'ok', detail: { path: 'api', added: 2 } }], 'the run added both: one before the crash, one after')
  await settled(s.service)
  const coverage = await db.selectFrom('app.batch_repo').select('coverage').where('batch_id', '=', own.id).execute()
  t.same(coverage.map((r) => r.coverage), ['covered', 'covered', 'covered'], 'coverage checked at the end, by the job the run asked for')

  // A later run (say site was taken out of the installation again) counts only its own repositories.
  await db.updateTable('app.batch_repo').set({ coverage: 'not_covered' }).where('batch_id', '=', own.id).where('repo_id', '=', 1001).execute()
  t.equal(await startIn(db, s.enqueue, own.id, [1001], job), true)
  t.same(await s.states(own.id), [
    [1000, null, null],
    [1002, null, null],
    [1001, 'pending', null],
  ])
  t.match(batchView((await loadBatch(db, own.id))!, { webUrl: s.service.sim.url }), { next: 'adding', added: 0, toAdd: 1 })
  await addRepos(db, s.github, job, s.options)

  // The job again (a redelivery): the batch is no longer adding, nothing is done.
  const calls = s.service.sim.state.apiLog.length
  await addRepos(db, s.github, job, s.options)
  await addRepos(db, s.github, { ...job, batchId: 999_999 }, s.options)
  t.equal(s.service.sim.state.apiLog.length, calls, 'GitHub not asked')
  await settled(s.service)
})

t.test('what GitHub refuses for one repository is recorded with the reason; the others are added', async (t) => {
  // octo is a member of acme with read access to vault: not enough to add it.
  const s = await setUp(t, [1, 3])
  const { db } = s.service.tdb
  const octos = await s.batchOf('acme', 3)
  const job = { batchId: octos.id, actor: { id: 3, login: 'octo' } }
  await startIn(db, s.enqueue, octos.id, [1102], job)
  await addRepos(db, s.github, job, s.options)
  t.same(await s.states(octos.id), [
    [1100, null, null],
    [1102, 'failed', 'You need admin rights on this repository to add it.'],
    [1101, null, null],
  ])
  t.match(await s.audit('repo_added'), [{ repo_id: 1102, outcome: 'failed', reason: 'You need admin rights on this repository to add it.' }])
  t.match(await s.batchOf('acme', 3), { state: 'installed' }, 'the API path works: it is one repository that failed')

  // mona's own: site deleted on GitHub before she adds it. GitHub's 404 cannot tell a deleted
  // repository from an installation closed to this token: what is left goes to the settings page.
  const own = await s.batchOf('mona')
  s.service.sim.state.deleteRepo(s.service.sim.state.liveRepo(1001)!)
  await startIn(db, s.enqueue, own.id, [1001, 1002], { batchId: own.id, actor: mona })
  await addRepos(db, s.github, { batchId: own.id, actor: mona }, s.options)
  t.same(await s.states(own.id), [
    [1000, null, null],
    [1002, 'added', null],
    [1001, null, null],
  ])
  t.match(await s.batchOf('mona'), { state: 'add_refused', state_reason: /does not let the old app's authorization add repositories/ })
  t.match(await s.audit('repos_add_finished'), [{}, { outcome: 'fallback_settings_page', detail: { path: 'settings_page', added: 1 } }])
  await settled(s.service)
  const page = (await s.service.app.inject({ url: '/migrate', cookies: { [SESSION_COOKIE]: await signIn(s.service.app, s.service.sim, 3) } })).body
  t.match(page, 'not added: You need admin rights on this repository to add it.', 'the page says why')
})

t.test('GitHub refusing the legacy token itself: the rest is left for the settings page, and the path recorded', async (t) => {
  const s = await setUp(t)
  const { db } = s.service.tdb
  // The token revoked on GitHub, still on record: 401.
  const own = await s.batchOf('mona')
  s.service.sim.state.revokeLegacyToken(s.service.sim.state.userByLogin('mona')!)
  await startIn(db, s.enqueue, own.id, [1001, 1002], { batchId: own.id, actor: mona })
  await addRepos(db, s.github, { batchId: own.id, actor: mona }, s.options)
  t.match(await s.batchOf('mona'), { state: 'add_refused' })
  t.same((await s.states(own.id)).map((r) => r[1]), [null, null, null], 'nothing pending, nothing marked failed')
  t.match(await s.audit('repos_add_finished'), [{ outcome: 'fallback_settings_page', reason: /no longer accepts the old app's authorization/, detail: { path: 'settings_page', added: 0 } }])
  t.same(await s.audit('repo_added'), [])

  // No token on record at all: GitHub is not asked.
  const acme = await s.batchOf('acme')
  await db.updateTable('legacy.oauth_users').set({ oauth_token: null }).where('github_user_id', '=', 1).execute()
  await startIn(db, s.enqueue, acme.id, [1101, 1102], { batchId: acme.id, actor: mona })
  const before = s.puts()
  await addRepos(db, s.github, { batchId: acme.id, actor: mona }, s.options)
  t.equal(s.puts(), before)
  t.match(await s.batchOf('acme'), { state: 'add_refused' })
  t.match((await s.audit('repos_add_finished')).at(-1), { outcome: 'fallback_settings_page', reason: "The old app's authorization was revoked." })
  await settled(s.service)
})

t.test('a legacy token without the repo scope: GitHub says so (404), and the settings page takes over with the scope named', async (t) => {
  const s = await setUp(t)
  const { db } = s.service.tdb
  const own = await s.batchOf('mona')
  const token = s.service.sim.state.tokens.get('gho_legacy_mona_0001')!
  if (token.kind === 'legacy') token.scopes = ['admin:repo_hook']
  await startIn(db, s.enqueue, own.id, [1001, 1002], { batchId: own.id, actor: mona })
  await addRepos(db, s.github, { batchId: own.id, actor: mona }, s.options)
  t.match(await s.batchOf('mona'), { state: 'add_refused', state_reason: "The old app's authorization lacks the repo scope GitHub requires for adding repositories, and it cannot be widened." })
  await settled(s.service)
})

t.test('GitHub unable to take it now (out of quota, failing): the run stops, says why on what is left, and is not stuck "adding"', async (t) => {
  const s = await setUp(t)
  const { db } = s.service.tdb
  const own = await s.batchOf('mona')
  await startIn(db, s.enqueue, own.id, [1001, 1002], { batchId: own.id, actor: mona })
  s.service.sim.state.limits.hourlyQuota = 0
  // The coverage check at the end is out of quota too: said on the batch, not a job that fails.
  await addRepos(db, s.github, { batchId: own.id, actor: mona }, s.options)
  await settled(s.service)
  t.match(await s.batchOf('mona'), { state: 'blocked', state_reason: /GitHub did not answer when coverage was checked \(HTTP 403\)/ }, 'not a refusal of the token: no settings page')
  const quota = "GitHub's rate limit for your account was reached: try again in a while."
  t.same(await s.states(own.id), [
    [1000, null, null],
    [1002, 'failed', quota],
    [1001, 'failed', quota],
  ])
  t.match(await s.audit('repos_add_finished'), [{ outcome: 'stopped', reason: quota, detail: { path: 'api', added: 0 } }])
  t.same(await s.audit('repo_added'), [], 'nothing tried is recorded as tried')

  s.service.sim.state.limits.hourlyQuota = 5000
  s.service.sim.state.faults.errors = [{ method: 'PUT', pattern: '/user/installations/{installation_id}/repositories/{repository_id}', status: 503, rate: 1 }]
  await startIn(db, s.enqueue, own.id, [1001, 1002], { batchId: own.id, actor: mona })
  await addRepos(db, s.github, { batchId: own.id, actor: mona }, s.options)
  t.match(await s.batchOf('mona'), { state: 'installed' })
  t.same((await s.states(own.id)).map((r) => r[2]), [null, 'GitHub did not answer (503): try again in a moment.', 'GitHub did not answer (503): try again in a moment.'])
  await settled(s.service)
})

/** mona's batch with `repoIds` to add, its first job collected (not run). */
async function monaAdding(t: Test, repoIds: number[]) {
  const s = await setUp(t)
  const { db } = s.service.tdb
  const own = await s.batchOf('mona')
  const job = { batchId: own.id, actor: mona }
  await startIn(db, s.enqueue, own.id, repoIds, job)
  s.queued.length = 0
  return { s, db, own, job }
}

/** One repo_added event per repository and one end of the run, counting both. */
async function addedOnce(t: Test, s: Setup): Promise<void> {
  t.same((await s.audit('repo_added')).map((e) => e.repo_id).sort(), [1001, 1002], 'one event per repository')
  t.match(await s.audit('repos_add_finished'), [{ outcome: 'ok', detail: { added: 2 } }], 'one end of the run, counting every piece')
}

t.test('a run in pieces: each piece adds at most its share and queues the next; every repository added once, audited once', async (t) => {
  const { s, db, own, job } = await monaAdding(t, [1001, 1002])
  const options = { ...s.options, pieceSize: 1 }
  await addRepos(db, s.github, job, options)
  t.equal(s.puts(), 1, 'the first piece adds one')
  t.same(s.queued, [job], 'and queues the next')
  t.match(await db.selectFrom('app.batch').selectAll().where('id', '=', own.id).executeTakeFirstOrThrow(), { state: 'adding', add_piece: 1, add_lease_until: null }, 'still adding, held by no piece')
  t.same(await s.audit('repos_add_finished'), [], 'the run goes on')
  t.same((await s.states(own.id)).map((r) => r[1]), [null, 'added', 'pending'])
  t.match(batchView((await loadBatch(db, own.id))!, { webUrl: s.service.sim.url }), { next: 'adding', added: 1, toAdd: 2 }, 'the page counts what the run added so far')

  await addRepos(db, s.github, s.queued.shift()!, options)
  t.equal(s.puts(), 2)
  t.same(s.queued, [], 'the last piece ends the run')
  t.same((await s.states(own.id)).map((r) => r[1]), [null, 'added', 'added'])
  t.match(await s.batchOf('mona'), { state: 'installed' })
  await addedOnce(t, s)
  await settled(s.service)
})

t.test('no two pieces of a batch at once: a second job waits out the lease of the first, and a piece that fails lets go for its retry', async (t) => {
  const { s, db, own, job } = await monaAdding(t, [1001, 1002])
  // A piece holds the batch (pg-boss started its job a second time, say, past its expiry).
  await db.updateTable('app.batch').set({ add_piece: 1, add_lease_until: new Date(Date.now() + 3_600_000) }).where('id', '=', own.id).execute()
  await addRepos(db, s.github, job, s.options)
  t.equal(s.puts(), 0, 'the second does nothing while the first holds the batch')
  t.same((await s.states(own.id)).map((r) => r[1]), [null, 'pending', 'pending'])

  // The first died (its lease ran out): pg-boss's retry of it takes the batch and goes on. A
  // piece whose queue fails when it hands over fails, lets go, and is retried at once.
  await db.updateTable('app.batch').set({ add_lease_until: new Date(Date.now() - 1_000) }).where('id', '=', own.id).execute()
  const failing = { ...s.options, pieceSize: 1, enqueue: async () => Promise.reject(new Error('the queue is down')) }
  await t.rejects(addRepos(db, s.github, job, failing), /the queue is down/)
  t.match(await db.selectFrom('app.batch').selectAll().where('id', '=', own.id).executeTakeFirstOrThrow(), { state: 'adding', add_piece: 2, add_lease_until: null }, 'let go')
  t.same((await s.states(own.id)).map((r) => r[1]), [null, 'added', 'pending'], 'what it added stays recorded')
  await addRepos(db, s.github, job, { ...s.options, pieceSize: 1 })
  t.same(s.queued, [], 'the last of it: the run ends')
  t.equal(s.puts(), 2, 'nothing added twice')
  await addedOnce(t, s)
  await settled(s.service)
})

t.test('a piece that outlived its lease and was taken over writes nothing more', async (t) => {
  const { s, db, own, job } = await monaAdding(t, [1001])
  // While its request is on its way to GitHub, another piece takes the batch.
  const slow: GitHubClients = {
    ...s.github,
    asUser: (token) => {
      const octokit = s.github.asUser(token)
      const request = (async (...args: Parameters<typeof octokit.request>) => {
        await db.updateTable('app.batch').set({ add_piece: sql<number>`add_piece + 1` }).where('id', '=', own.id).execute()
        return octokit.request(...args)
      }) as unknown as typeof octokit.request
      return Object.assign(Object.create(octokit) as typeof octokit, { request })
    },
  }
  await addRepos(db, slow, job, s.options)
  t.same((await s.states(own.id)).map((r) => r[1]), [null, null, 'pending'], 'left to the piece that holds the batch')
  t.same(await s.audit('repo_added'), [])
  t.match(await s.batchOf('mona'), { state: 'adding' })
  t.same(s.queued, [])
})

t.test('through the queue: an add run of several pieces, one job each, ends with every repository added once', async (t) => {
  const service = await serviceWithGitHub(t, world(), { addPieceSize: 1 })
  const cookie = await signIn(service.app, service.sim, 1)
  const page = (await view(service.app, cookie)).body
  const own = page.slice(page.indexOf('id="owner-mona"'), page.indexOf('</section>', page.indexOf('id="owner-mona"')))
  t.equal((await press(service.app, cookie, formAction(own, 'Add the 2 missing repositories'))).statusCode, 303)
  await settled(service)
  const jobs = await sql<{ state: string }>`select state from pgboss.job where name = 'add-repos'`.execute(service.tdb.db)
  t.same(
    jobs.rows.map((r) => r.state),
    ['completed', 'completed'],
    'two pieces, two jobs',
  )
  const events = await service.tdb.db.selectFrom('app.audit_event').select(['action', 'repo_id']).where('owner_login', '=', 'mona').where('action', 'like', 'repo%').orderBy('id').execute()
  t.same(events.map((e) => e.action), ['repos_add_started', 'repo_added', 'repo_added', 'repos_add_finished'])
  t.same(events.filter((e) => e.repo_id !== null).map((e) => e.repo_id).sort(), [1001, 1002])
  const after = (await view(service.app, cookie)).body
  t.match(after.slice(after.indexOf('id="owner-mona"')), /Covered[\s\S]*Coverage: 3 covered/)
})
