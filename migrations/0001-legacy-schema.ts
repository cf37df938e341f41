import { sql, type Kysely } from 'kysely'

// The legacy source (shared/contracts/legacy.md) as tables, for the demo, tests and vendors who
// import a dump. An operator may replace them with views of the same names and columns.
// Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createSchema('legacy').ifNotExists().execute()

  await db.schema
    .createTable('legacy.oauth_users')
    .addColumn('github_user_id', 'bigint', (c) => c.primaryKey())
    .addColumn('login', 'text', (c) => c.notNull())
    .addColumn('oauth_token', 'text')
    .addColumn('scopes', 'text')
    .execute()

  await db.schema
    .createTable('legacy.webhooks')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn('github_user_id', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('repo', 'org')`))
    .addColumn('owner_id', 'bigint', (c) => c.notNull())
    .addColumn('owner_login', 'text', (c) => c.notNull())
    .addColumn('owner_type', 'text', (c) => c.notNull().check(sql`owner_type in ('User', 'Organization')`))
    .addColumn('repo_id', 'bigint')
    .addColumn('repo_name', 'text')
    .addColumn('hook_id', 'bigint', (c) => c.notNull())
    .addColumn('hook_url', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz')
    .addCheckConstraint(
      'webhooks_repo_id_matches_kind',
      sql`(kind = 'repo' and repo_id is not null) or (kind = 'org' and repo_id is null and repo_name is null)`,
    )
    .execute()

  // GitHub hook ids are unique across repository and organization hooks: the import's key.
  await db.schema.createIndex('webhooks_hook_id_key').unique().on('legacy.webhooks').column('hook_id').execute()
  await db.schema.createIndex('webhooks_github_user_id_idx').on('legacy.webhooks').column('github_user_id').execute()
  await db.schema.createIndex('webhooks_owner_id_idx').on('legacy.webhooks').column('owner_id').execute()
  await db.schema
    .createIndex('webhooks_repo_id_idx')
    .on('legacy.webhooks')
    .column('repo_id')
    .where(sql.ref('repo_id'), 'is not', null)
    .execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('legacy.webhooks').execute()
  await db.schema.dropTable('legacy.oauth_users').execute()
  await db.schema.dropSchema('legacy').execute()
}
