import { sql, type Kysely } from 'kysely'

// When a webhook delivery's change was applied: a job retried after a later step failed (the
// coverage check, say) applies and audits the change once. Frozen: later changes go in new
// migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table app.webhook_delivery add column applied_at timestamptz`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table app.webhook_delivery drop column applied_at`.execute(db)
}
