import { sql, type Kysely } from 'kysely'

// A batch's row changes whenever one of its repositories' rows does, in the same transaction,
// so that what changed in a user's plan shows in the plan's few batch rows: the wizard's page
// then tells a changed plan from its kept copy by reading 40 rows, not 2,000 (plan-cache.ts).
// Every writer already updates the batch row first (the lock order of planning, coverage checks
// and add runs); the trigger only writes it when a transaction did not, and only once per
// transaction (the row's version is then this transaction's own).
// Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function app.batch_repo_touch_batch() returns trigger language plpgsql as $$
    begin
      if tg_op <> 'INSERT' then
        update app.batch set updated_at = updated_at where id = old.batch_id and xmin <> pg_current_xact_id()::xid;
      end if;
      if tg_op <> 'DELETE' and (tg_op = 'INSERT' or new.batch_id <> old.batch_id) then
        update app.batch set updated_at = updated_at where id = new.batch_id and xmin <> pg_current_xact_id()::xid;
      end if;
      return case when tg_op = 'DELETE' then old else new end;
    end $$;
    create trigger batch_repo_touch_batch before insert or update or delete on app.batch_repo
      for each row execute function app.batch_repo_touch_batch();`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger batch_repo_touch_batch on app.batch_repo; drop function app.batch_repo_touch_batch()`.execute(db)
}
