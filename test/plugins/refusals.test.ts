import Fastify from 'fastify'
import t from 'tap'
import { connect } from '../../src/db/connect.js'
import { refusalsPlugin } from '../../src/plugins/refusals.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'
import { testServer } from '../helpers/server.js'

// A flood of refused setup callbacks, as an attacker would send it: through two instances,
// rotating X-Forwarded-For. What it leaves in the audit log is bounded, and adds up.

const LONG = 1000 * 24 * 3600_000

function forged(i: number) {
  return { url: `/github/setup?setup_action=install&installation_id=${i + 1}&state=forged-${i}`, remoteAddress: '192.0.2.66', headers: { 'x-forwarded-for': `198.51.100.${i % 250}`, accept: 'text/html' } }
}

async function rejections(tdb: TestDatabase) {
  return tdb.db.selectFrom('app.audit_event').selectAll().where('action', '=', 'installation_rejected').orderBy('id').execute()
}

t.test('a flood of refused setups through two instances: two events, whose counts add up to the refusals', async (t) => {
  const tdb = await testDatabase(t)
  const first = await testServer(t, tdb, { rateLimitPerMinute: 30, refusalWindowMs: LONG })
  const second = await testServer(t, tdb, { rateLimitPerMinute: 30, refusalWindowMs: LONG })
  const answers = []
  for (let i = 0; i < 50; i += 5) {
    answers.push(...(await Promise.all([0, 1, 2, 3, 4].map((j) => (j % 2 === 0 ? first : second).inject(forged(i + j))))))
  }
  t.equal(answers.filter((r) => r.statusCode === 400).length, 30, 'refused, up to the limit shared by both instances')
  t.equal(answers.filter((r) => r.statusCode === 429).length, 20, 'then over the limit, which is not a refusal of a setup')
  t.match(answers.find((r) => r.statusCode === 400)!.body, 'This installation link was not made by this service')

  t.match(await rejections(tdb), [{ actor_login: null, reason: /not made by this service/, detail: { client: '192.0.2.66', refusalKind: 'unknown_link', refusals: 1 } }])
  t.equal((await rejections(tdb)).length, 1, 'while the window lasts, one event says why')
  // The window ends; an instance that stops writes what has ended before it goes.
  await tdb.db.updateTable('app.refusal_tally').set({ window_end: new Date(Date.now() - 1000) }).execute()
  await first.close()
  const events = await rejections(tdb)
  t.match(events, [{ detail: { refusals: 1 } }, { reason: /^Refused 29 more times like event #\d+ \(unknown_link\) from 192\.0\.2\.66 between /, detail: { refusals: 29 } }])
  t.equal(events.length, 2)
  t.equal(events.reduce((n, e) => n + Number(e.detail['refusals']), 0), 30, 'every refusal counted, once')
  t.notMatch(JSON.stringify(events), /198\.51\.100|forged-/, 'neither the made-up addresses nor the states are on record')
})

t.test('every instance writes the counts of ended windows as it goes', async (t) => {
  const tdb = await testDatabase(t)
  const app = await testServer(t, tdb, { refusalWindowMs: 30 })
  for (let i = 0; i < 4; i++) t.equal((await app.inject(forged(i))).statusCode, 400)
  const deadline = Date.now() + 5_000
  while ((await tdb.db.selectFrom('app.refusal_tally').select('client').execute()).length > 0) {
    if (Date.now() > deadline) throw new Error('the tally was never written')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const events = await rejections(tdb)
  t.equal(events.reduce((n, e) => n + Number(e.detail['refusals']), 0), 4, 'every refusal counted, once')
  t.ok(events.length <= 4)
})

t.test('without its database, the counts wait in the tally and the instance says so', async (t) => {
  const lines: string[] = []
  const unreachable = connect('postgres://nobody:secret@127.0.0.1:1/none', { max: 1 })
  t.teardown(() => unreachable.close())
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => void lines.push(line) } } })
  await app.register(refusalsPlugin, { db: unreachable.db, windowMs: 10 })
  await app.ready()
  const deadline = Date.now() + 5_000
  while (!lines.join('').includes('refusal counts not written yet')) {
    if (Date.now() > deadline) throw new Error('no warning')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  await app.close()
  t.notMatch(lines.join(''), /secret/)
  t.pass('a warning, and the service goes on')
})
