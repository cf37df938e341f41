import t from 'tap'
import { sql } from 'kysely'
import { migrateDown, migrateTo, migrateToLatest, pendingMigrations } from '../../src/db/migrator.js'
import { connect } from '../../src/db/connect.js'
import { testDatabase } from '../helpers/database.js'

async function tables(db: Parameters<typeof migrateToLatest>[0]): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select table_schema || '.' || table_name as name from information_schema.tables
    where table_schema in ('legacy', 'app') order by 1`.execute(db)
  return rows.map((r) => r.name)
}

t.test('from empty, every migration applies and a re-run does nothing', async (t) => {
  const tdb = await testDatabase(t, { migrate: false })
  const first = await migrateToLatest(tdb.db)
  t.same(first.map((r) => r.status), first.map(() => 'Success'))
  t.ok(first.length >= 2)
  t.same((await tables(tdb.db)).filter((n) => !n.includes('kysely')), [
    'app.audit_chain',
    'app.audit_event',
    'app.background_work',
    'app.batch',
    'app.batch_org_hook',
    'app.batch_repo',
    'app.before_snapshot',
    'app.cleanup_consent',
    'app.cleanup_task',
    'app.github_lane',
    'app.install_state',
    'app.installation',
    'app.inventory',
    'app.legacy_hook_state',
    'app.legacy_import',
    'app.rate_limit',
    'app.refusal_tally',
    'app.session',
    'app.staff_member',
    'app.task_epoch',
    'app.webhook_delivery',
    'legacy.oauth_users',
    'legacy.webhooks',
  ])
  t.same(await migrateToLatest(tdb.db), [], 'nothing left to run')
  t.same(await pendingMigrations(tdb.db), [])
})

/** The schema's shape: every column, index and trigger of the service's and the legacy tables. */
async function columns(db: Parameters<typeof migrateToLatest>[0]): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select table_schema || '.' || table_name || '.' || column_name as name from information_schema.columns
    where table_schema in ('legacy', 'app')
    union all
    select schemaname || '.' || tablename || ' ' || indexdef from pg_indexes where schemaname in ('legacy', 'app')
    union all
    select n.nspname || '.' || c.relname || ' ' || pg_get_triggerdef(g.oid)
    from pg_trigger g join pg_class c on c.oid = g.tgrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname in ('legacy', 'app') and not g.tgisinternal
    order by 1`.execute(db)
  return rows.map((r) => r.name)
}

t.test('up to a named migration, then the rest', async (t) => {
  const tdb = await testDatabase(t, { migrate: false })
  const upTo = await migrateTo(tdb.db, '0016-staff')
  t.equal(upTo.at(-1)?.migrationName, '0016-staff')
  t.ok(upTo.every((r) => r.status === 'Success' && r.migrationName <= '0016-staff'))
  t.ok((await pendingMigrations(tdb.db)).every((name) => name > '0016-staff'))
  const rest = await migrateToLatest(tdb.db)
  t.equal(rest[0]?.migrationName, '0017-staff-console', 'the rest run from the next one')
  t.same(await pendingMigrations(tdb.db), [])
})

t.test('down reverts only the last migration, and up restores it', async (t) => {
  const tdb = await testDatabase(t)
  const all = await columns(tdb.db)
  const down = await migrateDown(tdb.db)
  t.equal(down.length, 1)
  t.equal(down[0]?.direction, 'Down')
  t.same(await pendingMigrations(tdb.db), [down[0]?.migrationName])
  t.notSame(await columns(tdb.db), all)
  const up = await migrateToLatest(tdb.db)
  t.same(up.map((r) => r.migrationName), [down[0]?.migrationName])
  t.same(await columns(tdb.db), all)
})

t.test('every migration reverts: down, one at a time, to an empty schema, and up again to the same shape', async (t) => {
  const tdb = await testDatabase(t)
  const all = await columns(tdb.db)
  const reverted: string[] = []
  for (;;) {
    const [step] = await migrateDown(tdb.db)
    if (step === undefined) break
    reverted.push(step.migrationName)
  }
  t.same(reverted, [...reverted].sort().reverse(), 'newest first')
  t.same(await pendingMigrations(tdb.db), [...reverted].reverse(), 'all of them')
  t.same((await columns(tdb.db)).filter((name) => !name.startsWith('app.kysely_migration')), [], "nothing of the service or the legacy source left, but the migrator's own record")
  await migrateToLatest(tdb.db)
  t.same(await columns(tdb.db), all)
})

t.test('app.install_state is indexed by batch and by expiry', async (t) => {
  const tdb = await testDatabase(t)
  const { rows } = await sql<{ indexdef: string }>`select indexdef from pg_indexes where schemaname = 'app' and tablename = 'install_state' order by indexname`.execute(tdb.db)
  t.match(
    rows.map((r) => r.indexdef),
    [/\(batch_id\)$/, /\(expires_at\)$/, /UNIQUE INDEX install_state_pkey .*\(nonce\)$/],
  )
  // The planner uses them, even on a table this small, when told to avoid whole-table reads.
  await tdb.db.connection().execute(async (db) => {
    await sql`set enable_seqscan = off`.execute(db)
    for (const [where, index] of [['batch_id = 1', 'install_state_batch_id'], ['expires_at < now()', 'install_state_expires_at']] as const) {
      const plan = await sql<{ 'QUERY PLAN': string }>`explain select nonce from app.install_state where ${sql.raw(where)}`.execute(db)
      t.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), index, `${where}: ${index}`)
    }
    await sql`reset enable_seqscan`.execute(db)
  })
})

t.test('two instances migrating an empty database at once apply each migration once', async (t) => {
  const tdb = await testDatabase(t, { migrate: false })
  const other = connect(tdb.url, { max: 2 })
  t.teardown(() => other.close())
  const [a, b] = await Promise.all([migrateToLatest(tdb.db), migrateToLatest(other.db)])
  const names = [...a, ...b].map((r) => r.migrationName).sort()
  const expected = (await sql<{ name: string }>`select name from app.kysely_migration order by name`.execute(tdb.db)).rows.map((r) => r.name)
  t.same(names, expected, 'each migration ran in exactly one of the two')
  t.same(await pendingMigrations(tdb.db), [])
})

t.test('every migration reverts: down to an empty schema and up again', async (t) => {
  const tdb = await testDatabase(t)
  const all = await tables(tdb.db)
  let reverted = 0
  while ((await migrateDown(tdb.db)).length > 0) reverted++
  t.ok(reverted >= 3)
  t.same((await tables(tdb.db)).filter((n) => !n.includes('kysely')), [], 'nothing of the service is left')
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from information_schema.schemata where schema_name = 'legacy'`.execute(tdb.db)
  t.equal(rows[0]?.n, 0, 'the legacy schema is gone too')
  await migrateToLatest(tdb.db)
  t.same(await tables(tdb.db), all)
})
