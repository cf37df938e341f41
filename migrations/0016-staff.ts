import { sql, type Kysely } from 'kysely'

// Staff are named by login in STAFF, and a GitHub login can be renamed and taken by someone
// else. The first sign-in of a staff login pins it to that GitHub account; another account
// arriving under the same login later is refused. Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(
      `
    create table app.staff_member (
      login text primary key check (login = lower(login)),
      github_id bigint not null,
      pinned_at timestamptz not null default now()
    );
  `,
    )
    .execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`drop table app.staff_member;`).execute(db)
}
