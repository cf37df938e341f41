import Fastify from 'fastify'
import pg from 'pg'
import t from 'tap'
import { loggerOptions } from '../../src/logger.js'
import { appendAudit, verifyAuditChain, type AuditEvent } from '../../src/migration/audit.js'
import { auditSealerPlugin } from '../../src/plugins/audit-sealer.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'
import { testServer } from '../helpers/server.js'

const event: AuditEvent = { actor: { kind: 'system' }, action: 'webhook_received', outcome: 'ok' }

async function unsealed(tdb: TestDatabase): Promise<number> {
  return (await verifyAuditChain(tdb.db)).pending
}

t.test('the service seals each event within a second of its commit, batch after batch', async (t) => {
  const tdb = await testDatabase(t)
  const app = await testServer(t, tdb, { auditSealIntervalMs: 20 })
  await app.ready()
  for (let i = 0; i < 5; i++) await appendAudit(tdb.db, event)
  const started = Date.now()
  while ((await unsealed(tdb)) > 0 && Date.now() - started < 1_000) await new Promise((resolve) => setTimeout(resolve, 5))
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 5, pending: 0 }, 'sealed within a second, unasked')
})

t.test('several instances seal one log: each event once, in one chain', async (t) => {
  const tdb = await testDatabase(t)
  const apps = await Promise.all([1, 2, 3].map(() => testServer(t, tdb, { auditSealIntervalMs: 1 })))
  await Promise.all(apps.map((app) => app.ready()))
  await Promise.all(Array.from({ length: 30 }, () => appendAudit(tdb.db, event)))
  const started = Date.now()
  while ((await unsealed(tdb)) > 0 && Date.now() - started < 2_000) await new Promise((resolve) => setTimeout(resolve, 5))
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 30, pending: 0 })
})

t.test('closing seals what is left, waiting for a transaction still open', async (t) => {
  const tdb = await testDatabase(t)
  const app = Fastify({ logger: false })
  await app.register(auditSealerPlugin, { db: tdb.db, intervalMs: 60_000, batchSize: 2 })
  await app.ready()
  const open = new pg.Client({ connectionString: tdb.url })
  await open.connect()
  t.teardown(() => open.end())
  await open.query('begin')
  await open.query("insert into app.audit_event (actor_kind, action, outcome) values ('system', 'sign_in', 'ok')")
  for (let i = 0; i < 5; i++) await appendAudit(tdb.db, event)
  t.equal(await unsealed(tdb), 5, 'nothing sealed before its first turn (the open one is not committed yet)')
  const closed = app.close()
  await new Promise((resolve) => setTimeout(resolve, 20))
  await open.query('commit')
  await closed
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 6, pending: 0 })
})

t.test('when the log cannot be sealed the service says so and goes on', async (t) => {
  const tdb = await testDatabase(t, { migrate: false })
  const lines: string[] = []
  const app = Fastify({ logger: loggerOptions('warn', { write: (line: string) => void lines.push(line) }) })
  await app.register(auditSealerPlugin, { db: tdb.db, intervalMs: 1, closeWaitMs: 0 })
  await app.ready()
  const started = Date.now()
  while (lines.length < 2 && Date.now() - started < 2_000) await new Promise((resolve) => setTimeout(resolve, 5))
  await app.close()
  t.ok(lines.length >= 2, 'tried again after the first failure')
  t.match(JSON.parse(lines[0]!), { level: 40, msg: 'audit events could not be sealed; trying again shortly', err: { message: /"app" does not exist/ } })
})
