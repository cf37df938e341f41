import { sql, type Kysely } from 'kysely'

// The service's own schema `app`. The migrator keeps its bookkeeping there too, so the schema
// itself outlives this migration's down(). Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createSchema('app').ifNotExists().execute()

  // The shape connect-pg-simple expects for @fastify/session.
  await db.schema
    .createTable('app.session')
    .addColumn('sid', 'text', (c) => c.primaryKey())
    .addColumn('sess', 'json', (c) => c.notNull())
    .addColumn('expire', sql`timestamp(6)`, (c) => c.notNull())
    .execute()
  await db.schema.createIndex('session_expire_idx').on('app.session').column('expire').execute()

  // One row per successful `legacy:import`: which file, when, and what it changed.
  await db.schema
    .createTable('app.legacy_import')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('imported_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('file_name', 'text', (c) => c.notNull())
    .addColumn('file_sha256', 'text', (c) => c.notNull())
    .addColumn('rows', 'bigint', (c) => c.notNull())
    .addColumn('hooks_inserted', 'bigint', (c) => c.notNull())
    .addColumn('hooks_updated', 'bigint', (c) => c.notNull())
    .addColumn('hooks_unchanged', 'bigint', (c) => c.notNull())
    .addColumn('users_inserted', 'bigint', (c) => c.notNull())
    .addColumn('users_updated', 'bigint', (c) => c.notNull())
    .execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('app.legacy_import').execute()
  await db.schema.dropTable('app.session').execute()
}
