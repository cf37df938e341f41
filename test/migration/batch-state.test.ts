import t from 'tap'
import type { BatchState } from '../../src/db/database.js'
import { addingEnded, addingStarted, answered, checked, checkedOk, installed, linkIssued, requestPending, uninstalled } from '../../src/migration/batch-state.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'

// Every move of a batch's state, and the moves that no longer apply (a second tab, a job run
// again, an add run under way), which change nothing.

type Row = { state: BatchState; state_reason: string | null; installation_id: number | null; approvers: string[]; coverage_checked_at: Date | null }

/** One batch of owner 1 for each state given, in that order; returns their ids. */
async function batches(tdb: TestDatabase, ...states: [BatchState, number | null, string | null][]): Promise<number[]> {
  const ids: number[] = []
  for (const [i, [state, installationId, reason]] of states.entries()) {
    await tdb.db.insertInto('app.inventory').values({ user_id: i + 1, user_login: `user-${i + 1}`, planned_at: new Date(), gone: '[]', notes: '[]' }).execute()
    const row = await tdb.db
      .insertInto('app.batch')
      .values({ user_id: i + 1, owner_id: 1, owner_login: 'acme', owner_type: 'Organization', role: 'admin', action: 'install', hidden_repos: 0, state, state_reason: reason, installation_id: installationId, coverage_checked_at: null })
      .returning('id')
      .executeTakeFirstOrThrow()
    ids.push(row.id)
  }
  return ids
}

const rows = async (tdb: TestDatabase): Promise<Row[]> =>
  tdb.db.selectFrom('app.batch').select(['state', 'state_reason', 'installation_id', 'approvers', 'coverage_checked_at']).orderBy('id').execute()
const states = async (tdb: TestDatabase) => (await rows(tdb)).map((r) => [r.state, r.installation_id, r.state_reason])

t.test('before an install: the link, then a request; an installation that came first stays', async (t) => {
  const tdb = await testDatabase(t)
  const [planned, issued, done] = await batches(tdb, ['planned', null, null], ['link_issued', null, null], ['installed', 500, null])
  for (const id of [planned!, issued!, done!]) await linkIssued(tdb.db, id)
  t.same(await states(tdb), [['link_issued', null, null], ['link_issued', null, null], ['installed', 500, null]])
  for (const id of [planned!, done!]) await requestPending(tdb.db, id, ['octo'])
  t.match(await rows(tdb), [{ state: 'request_pending', approvers: ['octo'] }, { state: 'link_issued' }, { state: 'installed', approvers: [] }])
})

t.test('an installation: those without one are installed; one with another takes it and keeps its state; all take the login', async (t) => {
  const tdb = await testDatabase(t)
  const [first] = await batches(tdb, ['planned', null, 'GitHub did not say.'], ['add_refused', 400, 'Refused.'], ['installed', 500, null])
  const moved = await installed(tdb.db, { id: 500, accountId: 1, accountLogin: 'acme' }, { ownerId: 1 })
  t.equal(moved.length, 2, 'the one that had it already is not returned')
  t.same(await states(tdb), [['installed', 500, null], ['add_refused', 500, 'Refused.'], ['installed', 500, null]])
  const renamed = { id: 500, accountId: 1, accountLogin: 'acme-renamed' }
  t.same(await installed(tdb.db, renamed, { batchId: first! }), [], 'nothing to change')
  const logins = await tdb.db.selectFrom('app.batch').select('owner_login').execute()
  t.same(logins.map((r) => r.owner_login), ['acme-renamed', 'acme-renamed', 'acme-renamed'], "every batch of the account, not only the one given, takes today's login")
})

t.test('a check: a problem blocks an installed batch and is shown on one not installed; a good one installs and unblocks; an add run is left alone', async (t) => {
  const tdb = await testDatabase(t)
  const [, , , , refused] = await batches(tdb, ['installed', 500, null], ['adding', 500, null], ['link_issued', null, null], ['blocked', 500, 'Suspended.'], ['add_refused', 500, 'Refused.'])
  await checked(tdb.db, { ownerId: 1 }, 'GitHub did not answer.', false)
  t.same(await states(tdb), [
    ['blocked', 500, 'GitHub did not answer.'],
    ['adding', 500, null],
    ['link_issued', null, 'GitHub did not answer.'],
    ['blocked', 500, 'GitHub did not answer.'],
    ['blocked', 500, 'GitHub did not answer.'],
  ])
  t.ok((await rows(tdb)).every((r) => r.coverage_checked_at === null), 'unanswered: the time of the last check stands')
  await tdb.db.updateTable('app.batch').set({ state: 'add_refused', state_reason: 'Refused.' }).where('id', '=', refused!).execute()
  await checkedOk(tdb.db, 500, { ownerId: 1 })
  t.same(await states(tdb), [
    ['installed', 500, null],
    ['adding', 500, null],
    ['installed', 500, null],
    ['installed', 500, null],
    ['add_refused', 500, 'Refused.'],
  ])
  t.same(
    (await rows(tdb)).map((r) => r.coverage_checked_at !== null),
    [true, false, true, true, true],
    'checked now, but for the add run',
  )
})

t.test('uninstalled: installed states go back to planned, with why; GitHub answering clears what it could not say', async (t) => {
  const tdb = await testDatabase(t)
  const [first] = await batches(tdb, ['adding', 500, null], ['link_issued', null, null], ['blocked', 600, 'Suspended.'])
  await uninstalled(tdb.db, { installationId: 500 })
  await uninstalled(tdb.db, { batchId: first! + 2 }, 'The App is no longer installed on acme.')
  t.same(await states(tdb), [['planned', null, null], ['link_issued', null, null], ['planned', null, 'The App is no longer installed on acme.']])
  await answered(tdb.db, 3, [1])
  t.same(await states(tdb), [['planned', null, null], ['link_issued', null, null], ['planned', null, null]])
})

t.test('an add run: taken once, from an installed state only; it ends installed or refused', async (t) => {
  const tdb = await testDatabase(t)
  const [a, b, c] = await batches(tdb, ['installed', 500, null], ['blocked', 500, 'GitHub did not answer.'], ['planned', null, null])
  t.match(await addingStarted(tdb.db, a!), { owner_id: 1, owner_login: 'acme', installation_id: 500 })
  t.equal(await addingStarted(tdb.db, a!), undefined, 'already adding')
  t.ok(await addingStarted(tdb.db, b!))
  t.equal(await addingStarted(tdb.db, c!), undefined, 'no installation')
  await addingEnded(tdb.db, a!, null)
  await addingEnded(tdb.db, b!, 'GitHub refused the token.')
  await addingEnded(tdb.db, c!, null)
  t.same(await states(tdb), [['installed', 500, null], ['add_refused', 500, 'GitHub refused the token.'], ['planned', null, null]])
})
