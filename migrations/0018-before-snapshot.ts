import { sql, type Kysely } from 'kysely'

// "What was there before": a frozen copy of each legacy hook's record, taken the first time
// the service has reason to (the enabling user's sign-in, a cleanup task for the hook, or
// `oauth-to-app report:snapshot` for everyone), so the before-state report survives cleanup
// and any later change to the vendor's legacy.* tables (which may be views the vendor edits).
// A row is never changed or removed, even by the owning role. Frozen: later changes go in new
// migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(
      `
    create table app.before_snapshot (
      hook_id bigint primary key,
      kind text not null check (kind in ('repo', 'org')),
      owner_id bigint not null,
      owner_login text not null,
      owner_type text not null,
      repo_id bigint,
      repo_name text,
      hook_url text not null,
      -- legacy.webhooks.github_user_id, and that user's login as the vendor had it.
      enabled_by bigint not null,
      enabled_by_login text,
      enabled_at timestamptz,
      taken_at timestamptz not null default now()
    );
    create index before_snapshot_owner_idx on app.before_snapshot (owner_id);
    create index before_snapshot_repo_idx on app.before_snapshot (repo_id) where repo_id is not null;
    create index before_snapshot_enabled_by_idx on app.before_snapshot (enabled_by);

    create function app.before_snapshot_refuse() returns trigger
    language plpgsql as $$
    begin
      raise exception 'app.before_snapshot is frozen: % is not allowed', tg_op
        using errcode = 'insufficient_privilege';
    end
    $$;
    create trigger before_snapshot_no_change before update or delete on app.before_snapshot
      for each row execute function app.before_snapshot_refuse();
    create trigger before_snapshot_no_truncate before truncate on app.before_snapshot
      for each statement execute function app.before_snapshot_refuse();
  `,
    )
    .execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw('drop table app.before_snapshot; drop function app.before_snapshot_refuse();').execute(db)
}
