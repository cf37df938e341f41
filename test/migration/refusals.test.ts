import t from 'tap'
import { verifyAuditChain, type AuditEvent } from '../../src/migration/audit.js'
import { flushRefusals, recordRefusal, type RefusalSource } from '../../src/migration/refusals.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'

// Refusals counted per client, user, owner, kind and window: what support staff find in the
// audit log after a flood, and that every refusal is in it exactly once.

// Windows this long never end during a test by themselves (they start on multiples of their
// length since 1970): the tests end them, as the passing of time would.
const LONG = 1000 * 24 * 3600_000
const anonymousForgery: AuditEvent = { actor: { kind: 'user' }, action: 'installation_rejected', outcome: 'rejected', reason: 'This installation link was not made by this service.', requestId: 'req-a', detail: { setupAction: 'install' } }
const monaUsedLink: AuditEvent = {
  actor: { kind: 'user', githubId: 1, login: 'mona' },
  action: 'installation_rejected',
  target: { ownerId: 100, ownerLogin: 'acme', installationId: 7 },
  outcome: 'rejected',
  reason: 'This installation link was already used.',
  requestId: 'req-m',
}
const fromA: RefusalSource = { client: '192.0.2.1', kind: 'unknown_link' }

async function rejections(tdb: TestDatabase) {
  return tdb.db.selectFrom('app.audit_event').selectAll().where('action', '=', 'installation_rejected').orderBy('id').execute()
}

/** The windows counted so far end now, as a minute later would see them. */
async function endWindows(tdb: TestDatabase): Promise<void> {
  await tdb.db.updateTable('app.refusal_tally').set({ window_end: new Date(Date.now() - 1000) }).execute()
}

t.test("a window's first refusal is an event with its reason; the rest are one event when the window has ended", async (t) => {
  const tdb = await testDatabase(t)
  for (let i = 0; i < 3; i++) await recordRefusal(tdb.db, { ...anonymousForgery, requestId: `req-a${i}` }, fromA, LONG)
  for (let i = 0; i < 2; i++) await recordRefusal(tdb.db, monaUsedLink, { client: '192.0.2.1', kind: 'used_link' }, LONG)
  await recordRefusal(tdb.db, monaUsedLink, { client: '192.0.2.1', kind: 'other_account' }, LONG)
  await recordRefusal(tdb.db, { ...monaUsedLink, target: { ownerId: 101, ownerLogin: 'widgets' } }, { client: '192.0.2.1', kind: 'used_link' }, LONG)
  await recordRefusal(tdb.db, anonymousForgery, { client: '192.0.2.2', kind: 'unknown_link' }, LONG)

  const firsts = await rejections(tdb)
  t.match(firsts, [
    { actor_login: null, owner_id: null, reason: /not made by this service/, request_id: 'req-a0', detail: { setupAction: 'install', client: '192.0.2.1', refusalKind: 'unknown_link', refusals: 1 } },
    { actor_login: 'mona', owner_login: 'acme', installation_id: 7, reason: /already used/, detail: { client: '192.0.2.1', refusalKind: 'used_link', refusals: 1 } },
    { actor_login: 'mona', detail: { refusalKind: 'other_account', refusals: 1 } },
    { actor_login: 'mona', owner_login: 'widgets', detail: { refusalKind: 'used_link', refusals: 1 } },
    { actor_login: null, detail: { client: '192.0.2.2', refusals: 1 } },
  ], 'one event for each client, user, owner and kind')
  t.equal(firsts.length, 5)
  t.equal(await flushRefusals(tdb.db), 0, 'nothing is written while the window lasts')

  await endWindows(tdb)
  t.equal(await flushRefusals(tdb.db), 5, 'every ended window is taken')
  const summaries = (await rejections(tdb)).slice(5)
  t.match(summaries, [
    {
      actor_kind: 'user',
      actor_github_id: null,
      actor_login: null,
      owner_id: null,
      owner_login: null,
      outcome: 'rejected',
      request_id: null,
      reason: new RegExp(`^Refused 2 more times like event #${firsts[0]!.id} \\(unknown_link\\) from 192\\.0\\.2\\.1 between \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d and \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC: counted in this one event instead of one event each\\.$`),
      detail: { client: '192.0.2.1', refusalKind: 'unknown_link', refusals: 2, firstEventId: firsts[0]!.id, windowStart: String, windowEnd: String },
    },
    {
      actor_github_id: 1,
      actor_login: 'mona',
      owner_id: 100,
      owner_login: 'acme',
      reason: new RegExp(`^Refused 1 more time like event #${firsts[1]!.id} \\(used_link\\)`),
      detail: { refusals: 1, refusalKind: 'used_link' },
    },
  ], 'windows with one refusal need nothing more')
  t.equal(summaries.length, 2)
  const total = (await rejections(tdb)).reduce((n, e) => n + Number(e.detail['refusals']), 0)
  t.equal(total, 3 + 2 + 1 + 1 + 1, 'the counts add up to the refusals')
  t.same(await tdb.db.selectFrom('app.refusal_tally').selectAll().execute(), [], 'the tally is empty')
  t.match(await verifyAuditChain(tdb.db), { intact: true })
})

t.test('a flood at once, flushed by two instances at once: one reason, one count, nothing twice', async (t) => {
  const tdb = await testDatabase(t)
  await Promise.all(Array.from({ length: 40 }, (_, i) => recordRefusal(tdb.db, { ...anonymousForgery, requestId: `req-${i}` }, fromA, LONG)))
  t.equal((await rejections(tdb)).length, 1, 'one event while the window lasts')
  t.match(await tdb.db.selectFrom('app.refusal_tally').selectAll().execute(), [{ refusals: 40 }])
  await endWindows(tdb)
  const taken = await Promise.all([flushRefusals(tdb.db), flushRefusals(tdb.db), flushRefusals(tdb.db)])
  t.equal(taken.reduce((a, b) => a + b, 0), 1, 'the window was taken by one of them')
  t.match(await rejections(tdb), [{ detail: { refusals: 1 } }, { detail: { refusals: 39 } }])
  t.equal((await rejections(tdb)).length, 2)
})

t.test('the next window starts again with an event of its own; a flush takes a bounded number of windows', async (t) => {
  const tdb = await testDatabase(t)
  const window = 40
  await recordRefusal(tdb.db, anonymousForgery, fromA, window)
  await new Promise((resolve) => setTimeout(resolve, window + 10))
  await recordRefusal(tdb.db, anonymousForgery, fromA, window)
  t.equal((await rejections(tdb)).length, 2, 'a new window, a new first event')
  for (let i = 0; i < 5; i++) await recordRefusal(tdb.db, anonymousForgery, { client: `192.0.2.${10 + i}`, kind: 'expired_link' }, LONG)
  await endWindows(tdb)
  t.equal(await flushRefusals(tdb.db, 3), 3)
  t.equal(await flushRefusals(tdb.db, 3), 3)
  t.equal(await flushRefusals(tdb.db, 3), 1)
})
