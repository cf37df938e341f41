import { sql, type Kysely } from 'kysely'

// app.install_state by batch (the lookups of a batch's states, and the cascade when a batch is
// planned away, which otherwise reads the whole table for every batch deleted) and by expiry
// (expired states are pruned as new ones are issued). Frozen: later changes go in new
// migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create index install_state_batch_id on app.install_state (batch_id);
    create index install_state_expires_at on app.install_state (expires_at);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    drop index app.install_state_expires_at;
    drop index app.install_state_batch_id;
  `.execute(db)
}
