import { sql, type Kysely } from 'kysely'

// The SHA-256 of each webhook delivery's body: the delivery id is not signed, so a body
// GitHub delivered once can be sent again under a new X-GitHub-Delivery by anyone who kept
// it; GitHub's own redeliveries keep the id. Null for deliveries taken before this column.
// Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table app.webhook_delivery add column body_sha256 text`.execute(db)
  await sql`create unique index webhook_delivery_body_idx on app.webhook_delivery (body_sha256)`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table app.webhook_delivery drop column body_sha256`.execute(db)
}
