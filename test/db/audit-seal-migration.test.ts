import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { sql, type Kysely } from 'kysely'
import { FileMigrationProvider, Migrator } from 'kysely/migration'
import pg from 'pg'
import t, { type Test } from 'tap'
import { migrateToLatest } from '../../src/db/migrator.js'
import { appendAudit, sealPending, verifyAuditChain } from '../../src/migration/audit.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'

// A log written under the old design (one lock per insert, the chain made at once) keeps its
// chain through migration 0009, and new events continue it.

const BEFORE_SEALING = '0008-token-faults'

async function databaseBeforeSealing(t: Test): Promise<TestDatabase> {
  const tdb = await testDatabase(t, { migrate: false })
  const migrator = new Migrator({
    db: tdb.db as Kysely<unknown>,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: fileURLToPath(new URL('../../migrations', import.meta.url)) }),
    migrationTableSchema: 'app',
  })
  const { error } = await migrator.migrateTo(BEFORE_SEALING)
  if (error !== undefined) throw error
  return tdb
}

async function oldEvents(tdb: TestDatabase, actions: string[]): Promise<void> {
  for (const action of actions) await sql`insert into app.audit_event (actor_kind, action, outcome) values ('system', ${action}, 'ok')`.execute(tdb.db)
}

t.test('an existing chain still verifies after the migration, and new events continue it', async (t) => {
  const tdb = await databaseBeforeSealing(t)
  await oldEvents(tdb, ['sign_in', 'batch_planned', 'sign_out'])
  const before = await sql<{ id: number; hash: Buffer }>`select id, hash from app.audit_event order by id`.execute(tdb.db)
  await migrateToLatest(tdb.db)

  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 3, pending: 0 }, 'the old events are sealed as they were')
  const kept = await tdb.db.selectFrom('app.audit_chain').select(['event_id', 'seq', 'hash']).orderBy('seq').execute()
  t.same(kept.map((e) => [e.event_id, e.seq, e.hash]), before.rows.map((e) => [e.id, e.id, e.hash]), 'same positions, same hashes')

  const next = await appendAudit(tdb.db, { actor: { kind: 'system' }, action: 'webhook_received', outcome: 'ok' })
  t.equal(next.id, 4, 'ids go on from the last one')
  await sealPending(tdb.db, 10_000)
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 4, pending: 0 })
  const last = await tdb.db.selectFrom('app.audit_chain').select(['seq', 'prev_hash']).where('event_id', '=', 4).executeTakeFirstOrThrow()
  t.same(last, { seq: 4, prev_hash: before.rows[2]!.hash }, 'linked to the last event of the old chain')
})

t.test('an old chain tampered with before the migration is still found broken after it', async (t) => {
  const tdb = await databaseBeforeSealing(t)
  await oldEvents(tdb, ['sign_in', 'batch_planned', 'sign_out'])
  const client = new pg.Client({ connectionString: tdb.url })
  await client.connect()
  await client.query('set session_replication_role = replica')
  await client.query("update app.audit_event set outcome = 'failed' where id = 2")
  await client.end()
  await migrateToLatest(tdb.db)
  t.match(await verifyAuditChain(tdb.db), { intact: false, brokenAt: 2, reason: /does not match its hash/ })
})

t.test('an empty log migrates too: the first event starts the chain', async (t) => {
  const tdb = await databaseBeforeSealing(t)
  await migrateToLatest(tdb.db)
  t.equal((await appendAudit(tdb.db, { actor: { kind: 'system' }, action: 'sign_in', outcome: 'ok' })).id, 1)
  await sealPending(tdb.db, 10_000)
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 1, pending: 0 })
})
