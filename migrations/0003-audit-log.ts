import { sql, type Kysely } from 'kysely'

// The append-only audit log. Each event's hash is SHA-256 of the previous event's hash and the
// event's own canonical content (app.audit_canonical), computed here in the database so no
// caller can write a hash of its own; events take their id and time under one advisory lock,
// so the chain has one order even when transactions write concurrently. UPDATE, DELETE and
// TRUNCATE are refused by triggers (even for the owner) and revoked from the owning role.
// Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table app.audit_event (
      id bigint primary key,
      at timestamptz not null,
      actor_kind text not null check (actor_kind in ('user', 'staff', 'system', 'github')),
      actor_github_id bigint,
      actor_login text,
      action text not null,
      owner_id bigint,
      owner_login text,
      repo_id bigint,
      repo_name text,
      hook_id bigint,
      installation_id bigint,
      outcome text not null,
      reason text,
      request_id text,
      detail jsonb not null default '{}',
      prev_hash bytea not null,
      hash bytea not null
    );
    create index audit_event_owner_id_idx on app.audit_event (owner_id);
    create index audit_event_repo_id_idx on app.audit_event (repo_id);
    create index audit_event_actor_idx on app.audit_event (actor_github_id);
    create index audit_event_installation_idx on app.audit_event (installation_id);

    -- jsonb's text form is deterministic (keys sorted), which makes it a canonical form.
    create function app.audit_canonical(e app.audit_event) returns text
    language sql immutable as $$
      select jsonb_build_object(
        'id', e.id,
        'at', to_char(e.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'actor_kind', e.actor_kind, 'actor_github_id', e.actor_github_id, 'actor_login', e.actor_login,
        'action', e.action,
        'owner_id', e.owner_id, 'owner_login', e.owner_login, 'repo_id', e.repo_id, 'repo_name', e.repo_name,
        'hook_id', e.hook_id, 'installation_id', e.installation_id,
        'outcome', e.outcome, 'reason', e.reason, 'request_id', e.request_id, 'detail', e.detail
      )::text
    $$;

    create function app.audit_event_chain() returns trigger
    language plpgsql as $$
    declare
      last app.audit_event;
    begin
      -- Volatile: after the lock, the next query sees the event committed just before.
      perform pg_advisory_xact_lock(hashtext('oauth-to-app audit chain'));
      select * into last from app.audit_event order by id desc limit 1;
      new.id := coalesce(last.id, 0) + 1;
      new.at := clock_timestamp();
      new.prev_hash := coalesce(last.hash, decode(repeat('00', 32), 'hex'));
      new.hash := sha256(new.prev_hash || convert_to(app.audit_canonical(new), 'UTF8'));
      return new;
    end
    $$;
    create trigger audit_event_chain before insert on app.audit_event
      for each row execute function app.audit_event_chain();

    create function app.audit_event_refuse() returns trigger
    language plpgsql as $$
    begin
      raise exception 'app.audit_event is append-only: % is not allowed', tg_op
        using errcode = 'insufficient_privilege';
    end
    $$;
    create trigger audit_event_no_change before update or delete on app.audit_event
      for each row execute function app.audit_event_refuse();
    create trigger audit_event_no_truncate before truncate on app.audit_event
      for each statement execute function app.audit_event_refuse();

    revoke update, delete, truncate on app.audit_event from public;
    revoke update, delete, truncate on app.audit_event from current_user;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    drop function app.audit_canonical(app.audit_event);
    drop table app.audit_event;
    drop function app.audit_event_chain();
    drop function app.audit_event_refuse();
  `.execute(db)
}
