import { sql, type Kysely } from 'kysely'

// A batch's state was five columns (status, installation_id, adding, add_path,
// coverage_problem) that only the wizard's page combined, so nothing stopped a combination that
// means nothing (adding without an installation, installed with a status of link_issued). It is
// one column now, with its reason, and the installation is tied to it by a constraint. The
// transitions are in src/migration/batch-state.ts. Frozen: later changes go in new migrations.
//
//   planned, link_issued, request_pending   no installation yet
//   installed                               an installation; coverage as its repositories say
//   adding                                  an add run holds the batch
//   add_refused                             GitHub refused the API path: the settings page
//   blocked                                 the installation cannot be checked (suspended, refused, GitHub did not answer)

const INSTALLED = `'installed', 'adding', 'add_refused', 'blocked'`

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(
      `
    alter table app.batch add column state text;
    alter table app.batch add column state_reason text;
    update app.batch set
      state = case
        when installation_id is null and status = 'request_pending' then 'request_pending'
        when installation_id is null and status = 'link_issued' then 'link_issued'
        when installation_id is null then 'planned'
        when adding then 'adding'
        when add_path = 'settings_page' then 'add_refused'
        when coverage_problem is not null then 'blocked'
        else 'installed'
      end,
      -- What a person reads of the state: why the API path was refused, or why GitHub could not
      -- say (before an install too: whether the App is installed there).
      state_reason = case when installation_id is not null and add_path = 'settings_page' and not adding then add_path_reason else coverage_problem end;
    alter table app.batch alter column state set not null;
    alter table app.batch alter column state set default 'planned';
    alter table app.batch add constraint batch_state_check
      check (state in ('planned', 'link_issued', 'request_pending', ${INSTALLED}));
    alter table app.batch add constraint batch_state_installation_check
      check ((installation_id is not null) = (state in (${INSTALLED})));
    alter table app.batch drop column status;
    alter table app.batch drop column adding;
    alter table app.batch drop column add_path;
    alter table app.batch drop column add_path_reason;
    alter table app.batch drop column coverage_problem;
  `,
    )
    .execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(
      `
    alter table app.batch add column status text not null default 'planned'
      check (status in ('planned', 'link_issued', 'request_pending', 'installed'));
    alter table app.batch add column adding boolean not null default false;
    alter table app.batch add column add_path text check (add_path in ('api', 'settings_page'));
    alter table app.batch add column add_path_reason text;
    alter table app.batch add column coverage_problem text;
    update app.batch set
      status = case when state in (${INSTALLED}) then 'installed' else state end,
      adding = state = 'adding',
      add_path = case when state = 'add_refused' then 'settings_page' end,
      add_path_reason = case when state = 'add_refused' then state_reason end,
      coverage_problem = case when state <> 'add_refused' then state_reason end;
    alter table app.batch drop constraint batch_state_installation_check;
    alter table app.batch drop constraint batch_state_check;
    alter table app.batch drop column state_reason;
    alter table app.batch drop column state;
  `,
    )
    .execute(db)
}
