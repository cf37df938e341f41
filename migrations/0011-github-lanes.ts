import { sql, type Kysely } from 'kysely'

// What every instance must know about a GitHub credential's lane: when its next write may go
// (GITHUB_WRITE_SPACING_MS after the last one) and until when GitHub asked it to stop (a rate
// limit), with the count of secondary limits met in a row, which lengthens the next park.
// `key` names the credential without holding it: `token:` and a short sha256 of the token,
// `installation:<id>`, or `app`. One request at a time per lane is a session advisory lock, not
// a column here: Postgres drops it with the connection of an instance that dies.
// Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table app.github_lane (
      key text primary key check (key ~ '^(token:[0-9a-f]{16}|installation:[0-9]+|app|anonymous)$'),
      next_write_at timestamptz,
      parked_until timestamptz,
      park_count integer not null default 0 check (park_count >= 0),
      updated_at timestamptz not null default now()
    );
    create index github_lane_updated_at on app.github_lane (updated_at);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table app.github_lane`.execute(db)
}
