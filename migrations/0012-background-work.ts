import { sql, type Kysely } from 'kysely'

// Background work a person waits on (planning a user's migration, checking an owner's
// coverage): one row per kind and subject, with what it is doing now, so a page can show
// progress and a second request while one runs leads to one more run after it, never two at
// once. Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table app.background_work (
      kind text not null check (kind in ('plan', 'coverage')),
      -- The user (plan) or owner (coverage) the work is about.
      subject_id bigint not null,
      -- queued: a job waits; running: a job runs; done or failed: the last run's end.
      state text not null check (state in ('queued', 'running', 'done', 'failed')),
      -- Asked for again while running (the data may have changed since it started): one more
      -- run follows this one.
      again boolean not null default false,
      -- Counts the runs started: a run writes progress and its end only while it is the latest.
      run integer not null default 0,
      phase text,
      done integer,
      total integer,
      outcome text,
      message text,
      requested_at timestamptz not null default now(),
      started_at timestamptz,
      finished_at timestamptz,
      updated_at timestamptz not null default now(),
      primary key (kind, subject_id)
    );
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table app.background_work`.execute(db)
}
