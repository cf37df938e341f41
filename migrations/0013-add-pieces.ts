import { sql, type Kysely } from 'kysely'

// Adding repositories to an installation runs in pieces, one job each, every piece queuing the
// next. A piece holds its batch for a while (a lease, renewed with each repository it records)
// so that a second job for the same batch (pg-boss starting an expired one again) does nothing
// while the first is still at work. Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Counts the pieces that took the batch: a piece writes only while it is the latest.
    alter table app.batch add column add_piece integer not null default 0;
    -- Until when the latest piece holds the batch; null when no piece runs.
    alter table app.batch add column add_lease_until timestamptz;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table app.batch drop column add_lease_until;
    alter table app.batch drop column add_piece;
  `.execute(db)
}
