import { sql, type Kysely } from 'kysely'

// Removing the legacy webhooks. One task per legacy hook (GitHub's hook ids are unique across
// repository and organization hooks), created when its repository is covered and a user agreed;
// each ends in exactly one terminal outcome. A user's agreement is a row of its own: "remove
// them automatically as soon as the App covers them" (auto) or only what was covered when asked.
// The view tells the vendor's legacy receiver which deliveries of an old hook to drop. Frozen:
// later changes go in new migrations.
//
//   pending ──intent committed──▶ attempting ──▶ removed | already_absent
//      └──────────────────────────────┴──────▶ skipped_foreign | not_covered | needs_manual

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(
      `
    create table app.cleanup_consent (
      user_id bigint primary key,
      user_login text not null,
      auto boolean not null,
      agreed_at timestamptz not null default now()
    );
    create table app.cleanup_task (
      hook_id bigint primary key,
      kind text not null check (kind in ('repo', 'org')),
      owner_id bigint not null,
      owner_login text not null,
      repo_id bigint,
      repo_name text,
      -- The vendor user whose legacy token made the hook (legacy.webhooks.github_user_id).
      enabled_by bigint not null,
      -- The user whose agreement created the task; null for an operator's sweep (oauth-to-app cleanup).
      requested_by bigint,
      state text not null default 'pending'
        check (state in ('pending', 'attempting', 'removed', 'already_absent', 'skipped_foreign', 'not_covered', 'needs_manual')),
      -- What a person reads: why it needs them, why it was skipped.
      reason text,
      -- The credential of the last attempt (or of the outcome): legacy or installation.
      credential text check (credential in ('legacy', 'installation')),
      attempts integer not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      check ((kind = 'repo') = (repo_id is not null)),
      -- What needs a person, or was kept, always says why.
      check (state not in ('skipped_foreign', 'not_covered', 'needs_manual') or reason is not null)
    );
    -- When the user's grant of the old app was revoked, once every old hook of theirs had its outcome.
    alter table app.inventory add column grant_revoked_at timestamptz;
    create index cleanup_task_owner_open_idx on app.cleanup_task (owner_id) where state in ('pending', 'attempting');
    create index cleanup_task_owner_idx on app.cleanup_task (owner_id, repo_id);
    create index cleanup_task_requested_by_idx on app.cleanup_task (requested_by);

    -- Whether a legacy hook's deliveries should still be processed. Covered: a live installation
    -- lists the repository (an organization hook: the installation is on all repositories).
    create view app.legacy_hook_state as
    select
      w.hook_id,
      w.repo_id,
      w.kind,
      case
        when t.state in ('removed', 'already_absent', 'skipped_foreign', 'not_covered', 'needs_manual') then t.state
        when t.state is not null then 'removing'
        when c.covered_at is not null then 'covered'
        else 'active'
      end as state,
      coalesce(t.updated_at, c.covered_at, w.created_at) as since,
      c.covered_at is null as deliver
    from legacy.webhooks w
    left join app.cleanup_task t on t.hook_id = w.hook_id
    -- A repository is found by its id wherever it went (renamed, transferred); an organization by its id.
    left join lateral (
      select max(b.coverage_checked_at) as covered_at
      from app.batch_repo r
      join app.batch b on b.id = r.batch_id
      join app.installation i on i.id = b.installation_id and i.deleted_at is null and i.suspended_at is null
      where w.kind = 'repo' and r.repo_id = w.repo_id and r.coverage = 'covered'
      union all
      select max(b.coverage_checked_at)
      from app.batch b
      join app.installation i on i.id = b.installation_id and i.deleted_at is null and i.suspended_at is null
      where w.kind = 'org' and b.owner_id = w.owner_id and i.repository_selection = 'all'
      order by 1 nulls last
      limit 1
    ) c on true;
  `,
    )
    .execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw('drop view app.legacy_hook_state; drop table app.cleanup_task; drop table app.cleanup_consent; alter table app.inventory drop column grant_revoked_at;')
    .execute(db)
}
