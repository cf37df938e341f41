import { sql, type Kysely } from 'kysely'

// The wizard's state, so a user who leaves at any step finds it where they left it: the
// batches planned for each user (one per owner), their repositories and org hooks with their
// coverage, the one-time install states handed to GitHub, the installations GitHub told us
// about, and the webhook deliveries already taken (GitHub redelivers). Frozen: later changes go
// in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- What the user's last planning found, and the user's own repositories GitHub no longer shows.
    create table app.inventory (
      user_id bigint primary key,
      user_login text not null,
      planned_at timestamptz not null,
      gone jsonb not null default '[]'
    );

    create table app.batch (
      id bigint generated always as identity primary key,
      user_id bigint not null references app.inventory (user_id),
      owner_id bigint not null,
      owner_login text not null,
      owner_type text not null check (owner_type in ('User', 'Organization')),
      role text not null check (role in ('owner', 'admin', 'member', 'outsider')),
      action text not null check (action in ('install', 'request', 'none')),
      hidden_repos integer not null default 0,
      -- planned: nothing done yet; link_issued: sent to GitHub's install page;
      -- request_pending: an org owner must approve; installed: the installation is verified.
      status text not null default 'planned' check (status in ('planned', 'link_issued', 'request_pending', 'installed')),
      installation_id bigint,
      -- How missing repositories are added: through the API with the legacy token, or, when
      -- GitHub refuses that token, by the user on the installation's settings page.
      add_path text check (add_path in ('api', 'settings_page')),
      -- adding: a background job is adding repositories to the installation.
      adding boolean not null default false,
      coverage_checked_at timestamptz,
      -- Why the last coverage check could not be made (suspended, uninstalled...), for people.
      coverage_problem text,
      updated_at timestamptz not null default now(),
      unique (user_id, owner_id)
    );
    create index batch_owner_idx on app.batch (owner_id);
    create index batch_installation_idx on app.batch (installation_id);

    create table app.batch_repo (
      batch_id bigint not null references app.batch (id) on delete cascade,
      repo_id bigint not null,
      repo_name text not null,
      private boolean not null,
      moved boolean not null,
      enabled_by text[] not null,
      hook_ids bigint[] not null,
      coverage text not null default 'unknown' check (coverage in ('unknown', 'covered', 'not_covered', 'gone', 'moved')),
      -- Where a repository went, when coverage found it moved to another owner.
      moved_to text,
      -- Adding it to the installation: pending, added, or failed (with the reason).
      add_state text check (add_state in ('pending', 'added', 'failed')),
      add_reason text,
      primary key (batch_id, repo_id)
    );
    create index batch_repo_repo_idx on app.batch_repo (repo_id);

    create table app.batch_org_hook (
      batch_id bigint not null references app.batch (id) on delete cascade,
      hook_id bigint not null,
      enabled_by text[] not null,
      primary key (batch_id, hook_id)
    );

    -- The one-time state of an install link: the signed state names this row, which names the
    -- user, the owner and the repositories the link preselected.
    create table app.install_state (
      nonce text primary key,
      batch_id bigint not null references app.batch (id) on delete cascade,
      user_id bigint not null,
      owner_id bigint not null,
      repo_ids bigint[] not null,
      issued_at timestamptz not null default now(),
      expires_at timestamptz not null,
      used_at timestamptz
    );

    create table app.installation (
      id bigint primary key,
      account_id bigint not null,
      account_login text not null,
      repository_selection text not null check (repository_selection in ('all', 'selected')),
      suspended_at timestamptz,
      deleted_at timestamptz,
      updated_at timestamptz not null default now()
    );
    create index installation_account_idx on app.installation (account_id);

    create table app.webhook_delivery (
      delivery_id text primary key,
      event text not null,
      action text,
      installation_id bigint,
      received_at timestamptz not null default now()
    );
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    drop table app.webhook_delivery;
    drop table app.installation;
    drop table app.install_state;
    drop table app.batch_org_hook;
    drop table app.batch_repo;
    drop table app.batch;
    drop table app.inventory;
  `.execute(db)
}
