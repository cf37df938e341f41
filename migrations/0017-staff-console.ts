import { sql, type Kysely } from 'kysely'

// The staff console. Its audit review: newest first, filtered by one field, a page at a time by
// the last row seen (keyset). Each filter has an index in the console's order, so a first page
// (and the thousandth) reads about a page of index entries, however many events there are:
// (field, at desc, id desc), partial where the field is often empty. They replace the
// single-column indexes of 0003, which they cover. A repository's or an owner's name, as
// events recorded it, finds its id (names change; ids do not). Its search box takes logins
// and names as a customer pastes them, looked up in the plans as well. Frozen: later changes
// go in new migrations.

const ORDER = 'at desc, id desc'

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(
      `
    drop index app.audit_event_owner_id_idx;
    drop index app.audit_event_repo_id_idx;
    drop index app.audit_event_actor_idx;
    drop index app.audit_event_installation_idx;
    create index audit_event_at_idx on app.audit_event (${ORDER});
    create index audit_event_owner_idx on app.audit_event (owner_id, ${ORDER}) where owner_id is not null;
    create index audit_event_repo_idx on app.audit_event (repo_id, ${ORDER}) where repo_id is not null;
    create index audit_event_actor_id_idx on app.audit_event (actor_github_id, ${ORDER}) where actor_github_id is not null;
    create index audit_event_actor_login_idx on app.audit_event (lower(actor_login), ${ORDER}) where actor_login is not null;
    create index audit_event_installation_idx on app.audit_event (installation_id, ${ORDER}) where installation_id is not null;
    create index audit_event_hook_idx on app.audit_event (hook_id, ${ORDER}) where hook_id is not null;
    create index audit_event_action_idx on app.audit_event (action, ${ORDER});
    create index audit_event_outcome_idx on app.audit_event (outcome, ${ORDER});
    create index audit_event_repo_name_idx on app.audit_event (lower(repo_name), lower(owner_login), repo_id) where repo_id is not null;
    create index audit_event_owner_login_idx on app.audit_event (lower(owner_login), owner_id) where owner_id is not null;
    create index inventory_user_login_idx on app.inventory (lower(user_login));
    create index batch_owner_login_idx on app.batch (lower(owner_login));
    create index batch_repo_name_idx on app.batch_repo (lower(repo_name));
  `,
    )
    .execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(
      `
    drop index app.audit_event_at_idx, app.audit_event_owner_idx, app.audit_event_repo_idx, app.audit_event_actor_id_idx,
      app.audit_event_actor_login_idx, app.audit_event_installation_idx, app.audit_event_hook_idx, app.audit_event_action_idx,
      app.audit_event_outcome_idx, app.audit_event_repo_name_idx, app.audit_event_owner_login_idx,
      app.inventory_user_login_idx, app.batch_owner_login_idx, app.batch_repo_name_idx;
    create index audit_event_owner_id_idx on app.audit_event (owner_id);
    create index audit_event_repo_id_idx on app.audit_event (repo_id);
    create index audit_event_actor_idx on app.audit_event (actor_github_id);
    create index audit_event_installation_idx on app.audit_event (installation_id);
  `,
    )
    .execute(db)
}
