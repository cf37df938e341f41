import { sql } from 'kysely'
import t from 'tap'
import { endWork, loadWork, progressOf, reportProgress, requestWork, startWork, underWay, type SendWork } from '../../src/migration/background-work.js'
import { connect } from '../../src/db/connect.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'

// Background work a person waits on: one job per subject at a time, a request while it runs
// followed by one more run, progress and the end written only by the latest run.

const user = 42

/** What was sent, and a send that records it. */
function sends(): { sent: { startAfterSeconds?: number }[]; send: SendWork } {
  const sent: { startAfterSeconds?: number }[] = []
  return { sent, send: async (options) => void sent.push(options) }
}

const request = (tdb: TestDatabase, send: SendWork, staleAfterSeconds = 3600) =>
  tdb.db.transaction().execute((trx) => requestWork(trx, { kind: 'plan', subjectId: user, staleAfterSeconds, send }))

const stateOf = async (tdb: TestDatabase) => (await loadWork(tdb.db, 'plan', [user]))[0]

t.test('a request sends one job; more requests before it starts send none', async (t) => {
  const tdb = await testDatabase(t)
  const { sent, send } = sends()
  t.equal(await request(tdb, send), true, 'the first request sends a job')
  t.equal(await request(tdb, send), false, 'a second tab: the job waiting will do')
  t.same(sent, [{}])
  const work = await stateOf(tdb)
  t.equal(work?.state, 'queued')
  t.ok(underWay(work), 'the page shows it under way')
  t.same(await loadWork(tdb.db, 'coverage', [user]), [], 'another kind of work of the same id is apart')
  t.same(await loadWork(tdb.db, 'plan', []), [])
})

t.test('a request that rolls back leaves nothing behind', async (t) => {
  const tdb = await testDatabase(t)
  const { send } = sends()
  await t.rejects(
    tdb.db.transaction().execute(async (trx) => {
      await requestWork(trx, { kind: 'plan', subjectId: user, staleAfterSeconds: 3600, send })
      throw new Error('the change failed')
    }),
  )
  t.equal(await stateOf(tdb), undefined)
  t.notOk(underWay(undefined))
})

t.test('a run reports progress, and ends done with its outcome', async (t) => {
  const tdb = await testDatabase(t)
  const { sent, send } = sends()
  await request(tdb, send)
  const run = await startWork(tdb.db, 'plan', user)
  t.equal((await stateOf(tdb))?.state, 'running')
  await reportProgress(tdb.db, run, 'repositories', 3, 20)
  t.match(await stateOf(tdb), { state: 'running', phase: 'repositories', done: 3, total: 20 })
  t.equal(await tdb.db.transaction().execute((trx) => endWork(trx, run, { state: 'done', outcome: 'planned' }, send)), true)
  const work = await stateOf(tdb)
  t.match(work, { state: 'done', outcome: 'planned', message: null })
  t.ok(work?.finished_at instanceof Date)
  t.notOk(underWay(work), 'done: the page stops refreshing')
  t.same(sent, [{}], 'no run after it: nobody asked again')
})

t.test('a run that fails says why; a request after it starts anew', async (t) => {
  const tdb = await testDatabase(t)
  const { sent, send } = sends()
  await request(tdb, send)
  const run = await startWork(tdb.db, 'plan', user)
  await tdb.db.transaction().execute((trx) => endWork(trx, run, { state: 'failed', message: 'GitHub did not answer' }, send))
  t.match(await stateOf(tdb), { state: 'failed', message: 'GitHub did not answer', outcome: null })
  t.equal(await request(tdb, send), true, 'Look again: a new job')
  t.equal((await stateOf(tdb))?.state, 'queued')
  const next = await startWork(tdb.db, 'plan', user)
  t.equal(next.run, run.run + 1)
  t.match(await stateOf(tdb), { state: 'running', message: null, phase: null, done: null })
  t.same(sent, [{}, {}])
})

t.test('a request while a run is under way leads to one more run after it, not to two at once', async (t) => {
  const tdb = await testDatabase(t)
  const { sent, send } = sends()
  await request(tdb, send)
  const run = await startWork(tdb.db, 'plan', user)
  t.equal(await request(tdb, send), false, 'nothing sent while it runs')
  t.equal(await request(tdb, send), false, 'nor for a third click')
  t.same(sent, [{}])
  await tdb.db.transaction().execute((trx) => endWork(trx, run, { state: 'done', outcome: 'planned' }, send))
  const work = await stateOf(tdb)
  t.match(work, { state: 'queued', outcome: 'planned' }, 'not marked done: the request after the start is still to serve')
  t.ok(underWay(work))
  t.same(sent, [{}, { startAfterSeconds: 1 }], 'one more job, sent by the run that ends')
  // That run serves every request so far: it ends done.
  const next = await startWork(tdb.db, 'plan', user)
  await tdb.db.transaction().execute((trx) => endWork(trx, next, { state: 'done', outcome: 'nothing' }, send))
  t.match(await stateOf(tdb), { state: 'done', outcome: 'nothing' })
  t.equal(sent.length, 2)
})

t.test('a run that outlived its expiry and was started again writes nothing', async (t) => {
  const tdb = await testDatabase(t)
  const { sent, send } = sends()
  await request(tdb, send)
  const first = await startWork(tdb.db, 'plan', user)
  // pg-boss took the first for dead and started the job again.
  const second = await startWork(tdb.db, 'plan', user)
  await reportProgress(tdb.db, second, 'owners', 1, 4)
  await reportProgress(tdb.db, first, 'repositories', 9, 9)
  t.match(await stateOf(tdb), { phase: 'owners', done: 1, total: 4 }, "the first run's progress is not shown")
  t.equal(await tdb.db.transaction().execute((trx) => endWork(trx, first, { state: 'failed', message: 'late' }, send)), false)
  t.match(await stateOf(tdb), { state: 'running', message: null })
  await tdb.db.transaction().execute((trx) => endWork(trx, second, { state: 'done', outcome: 'planned' }, send))
  t.match(await stateOf(tdb), { state: 'done', outcome: 'planned' })
  await reportProgress(tdb.db, second, 'owners', 4, 4)
  t.match(await stateOf(tdb), { done: 1 }, 'no progress after the end')
  t.same(sent, [{}])
})

t.test('work with no sign of life for longer than its queue keeps a job is asked for anew', async (t) => {
  const tdb = await testDatabase(t)
  const { sent, send } = sends()
  await request(tdb, send)
  const run = await startWork(tdb.db, 'plan', user)
  t.equal(await request(tdb, send, 60), false, 'alive: followed, not doubled')
  await sql`update app.background_work set updated_at = now() - interval '2 minutes'`.execute(tdb.db)
  t.equal(await request(tdb, send, 60), true, 'its job is gone: a new one')
  t.match(await stateOf(tdb), { state: 'queued', again: false })
  t.equal(await tdb.db.transaction().execute((trx) => endWork(trx, run, { state: 'done', outcome: 'planned' }, send)), false, 'the lost run, should it end after all, writes nothing')
  t.same(sent, [{}, {}])
})

t.test('a job whose request row is missing still runs and records its end', async (t) => {
  const tdb = await testDatabase(t)
  const { send } = sends()
  const run = await startWork(tdb.db, 'plan', user)
  t.equal(run.run, 1)
  await tdb.db.transaction().execute((trx) => endWork(trx, run, { state: 'done', outcome: 'planned' }, send))
  t.match(await stateOf(tdb), { state: 'done', outcome: 'planned' })
})

t.test("a run's reports are written behind it, the latest kept while one is being written", async (t) => {
  const tdb = await testDatabase(t)
  const { send } = sends()
  await request(tdb, send)
  const run = await startWork(tdb.db, 'plan', user)
  const progress = progressOf(tdb.db, run)
  for (let page = 1; page <= 20; page++) await progress('repositories', page, 20)
  // The reports returned at once; the page sees the last of them shortly after.
  for (let tries = 0; (await stateOf(tdb))?.done !== 20; tries++) {
    if (tries > 200) throw new Error('the last report never landed')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  t.match(await stateOf(tdb), { phase: 'repositories', done: 20, total: 20 })
  // A report after the run ended changes nothing, and a failed write is no failure of the run.
  await tdb.db.transaction().execute((trx) => endWork(trx, run, { state: 'done', outcome: 'planned' }, send))
  await progress('roles', 1, 3)
  const closed = connect(tdb.url, { max: 1 })
  await closed.close()
  await progressOf(closed.db, run)('roles', 2, 3)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(await stateOf(tdb), { state: 'done', phase: 'repositories', done: 20 })
})
