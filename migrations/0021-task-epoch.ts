import { sql, type Kysely } from 'kysely'

// Every owner's removal tasks have an epoch that moves, in the same transaction, whenever one of
// them is inserted, updated or deleted: the wizard's page tells changed tasks from its kept copy
// by reading its 40 owners' epochs, not by looking up each of 2,000 hooks in the task index (a
// user's hooks lie among everyone else's, so each was a descent of the index on every visit).
// One statement-level trigger per kind of write, so that a statement moves each owner's epoch
// once; owners in ascending order, so that two statements writing the same owners take their
// rows' locks in the same order. An epoch's row stays locked until its writer commits; the
// service's writers write tasks in their last statement on them (planning removal, a task's
// move) and after it only append an audit event and queue a job, so a writer holding an epoch
// never waits for a lock held by one waiting for it.
// Frozen: later changes go in new migrations.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table app.task_epoch (
      owner_id bigint primary key,
      epoch bigint not null
    );
    insert into app.task_epoch (owner_id, epoch) select owner_id, 1 from app.cleanup_task group by owner_id;

    create function app.cleanup_task_epoch() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        insert into app.task_epoch as e (owner_id, epoch)
          select distinct owner_id, 1 from new_tasks order by owner_id
          on conflict (owner_id) do update set epoch = e.epoch + 1;
      elsif tg_op = 'UPDATE' then
        insert into app.task_epoch as e (owner_id, epoch)
          select owner_id, 1 from (select owner_id from new_tasks union select owner_id from old_tasks) o order by owner_id
          on conflict (owner_id) do update set epoch = e.epoch + 1;
      elsif tg_op = 'DELETE' then
        insert into app.task_epoch as e (owner_id, epoch)
          select distinct owner_id, 1 from old_tasks order by owner_id
          on conflict (owner_id) do update set epoch = e.epoch + 1;
      else
        update app.task_epoch set epoch = epoch + 1;
      end if;
      return null;
    end $$;
    create trigger cleanup_task_epoch_insert after insert on app.cleanup_task
      referencing new table as new_tasks for each statement execute function app.cleanup_task_epoch();
    create trigger cleanup_task_epoch_update after update on app.cleanup_task
      referencing old table as old_tasks new table as new_tasks for each statement execute function app.cleanup_task_epoch();
    create trigger cleanup_task_epoch_delete after delete on app.cleanup_task
      referencing old table as old_tasks for each statement execute function app.cleanup_task_epoch();
    create trigger cleanup_task_epoch_truncate after truncate on app.cleanup_task
      for each statement execute function app.cleanup_task_epoch();`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    drop trigger cleanup_task_epoch_truncate on app.cleanup_task;
    drop trigger cleanup_task_epoch_delete on app.cleanup_task;
    drop trigger cleanup_task_epoch_update on app.cleanup_task;
    drop trigger cleanup_task_epoch_insert on app.cleanup_task;
    drop function app.cleanup_task_epoch();
    drop table app.task_epoch;`.execute(db)
}
