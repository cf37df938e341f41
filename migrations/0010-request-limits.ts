import { sql, type Kysely } from 'kysely'

// Limits that hold across instances, and refusals counted instead of written one by one.
//
// app.rate_limit: one row per client and route, counting the requests of its current window
// (fixed, from its first request). Unlogged: a crash forgets the counters, which only lets
// the clients of that minute start their minute again, and no write-ahead log is spent on
// every sign-in. Rows whose window has ended are pruned as new windows open.
//
// app.refusal_tally: refusals of one kind from one client (and signed-in user, about one owner)
// per window. The first refusal of a window is an audit event of its own; the others are
// counted here and written as one event when the window has ended, in the transaction that
// deletes the row, so every refusal is in the audit log exactly once. Logged: a count here is
// not yet anywhere else. Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create unlogged table app.rate_limit (
      key text primary key,
      hits integer not null,
      resets_at timestamptz not null
    );
    create index rate_limit_resets_at on app.rate_limit (resets_at);

    create table app.refusal_tally (
      client text not null,
      -- 0 when nobody was signed in: a key column cannot be null.
      actor_github_id bigint not null,
      actor_login text,
      -- The owner the signed state named (0: none could be read), so support finds it by owner.
      owner_id bigint not null,
      owner_login text,
      action text not null,
      kind text not null,
      window_start timestamptz not null,
      window_end timestamptz not null,
      refusals integer not null,
      first_event_id bigint,
      primary key (client, actor_github_id, owner_id, kind, window_start)
    );
    create index refusal_tally_window_end on app.refusal_tally (window_end);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    drop table app.refusal_tally;
    drop table app.rate_limit;
  `.execute(db)
}
