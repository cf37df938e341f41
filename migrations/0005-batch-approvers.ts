import { sql, type Kysely } from 'kysely'

// Who can approve a batch's request: the org's owners as GitHub listed them when the request
// was made, shown to the member who is waiting. Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table app.batch add column approvers text[] not null default '{}'`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table app.batch drop column approvers`.execute(db)
}
