import { sql, type Kysely } from 'kysely'

// What a user's legacy token could not show when their migration was planned, and why: notes
// for the page (single sign-on, a scope it lacks, no answer), repositories planned from the
// user's own record because the token could not see them, a role GitHub would not tell (its
// install page then offers Install or Request), and why GitHub refused to add repositories
// through the API. Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table app.inventory add column notes jsonb not null default '[]';
    alter table app.batch_repo add column unseen text check (unseen in ('sso', 'scope', 'forbidden', 'unavailable'));
    alter table app.batch drop constraint batch_role_check;
    alter table app.batch add constraint batch_role_check check (role in ('owner', 'admin', 'member', 'outsider', 'unknown'));
    alter table app.batch add column add_path_reason text;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table app.batch drop column add_path_reason;
    update app.batch set role = 'outsider', action = 'none' where role = 'unknown';
    alter table app.batch drop constraint batch_role_check;
    alter table app.batch add constraint batch_role_check check (role in ('owner', 'admin', 'member', 'outsider'));
    alter table app.batch_repo drop column unseen;
    alter table app.inventory drop column notes;
  `.execute(db)
}
