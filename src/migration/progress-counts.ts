import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'

// The migration at a glance, for the console's dashboard and GET /metrics: how many users
// started and finished, where the owners stand, what became of the old hooks; who waits for an
// org owner's approval, which hooks need a person, and removals day by day. Counted in
// Postgres, a query each, from the service's own state.

export interface MigrationCounts {
  /** Users who planned their migration here. */
  usersStarted: number
  /** Users every batch of whom is covered and its old hooks settled (nothing left for anyone). */
  usersFinished: number
  owners: {
    /** The App has a live installation on the account. */
    installed: number
    /** A member asked, and no owner has approved yet. */
    waiting: number
    /** Installed, and every planned repository covered. */
    covered: number
    /** Covered, and every old hook of it removed (or not ours). */
    done: number
  }
  hooks: {
    /** Legacy hooks on record. */
    total: number
    removed: number
    /** Agreed and under way. */
    remaining: number
    /** Kept because coverage was lost, or needing a person. */
    attention: number
  }
}

/** Outcomes that leave nothing for anyone to do. */
const SETTLED = ['removed', 'already_absent', 'skipped_foreign']

export async function migrationCounts(db: Kysely<Database>): Promise<MigrationCounts> {
  const { rows } = await sql<{
    users_started: number
    users_finished: number
    installed: number
    waiting: number
    covered: number
    done: number
    hooks: number
    removed: number
    remaining: number
    attention: number
  }>`
    with live as (
      select distinct account_id as owner_id from app.installation where deleted_at is null and suspended_at is null
    ), batches as (
      -- As the wizard reads a batch: covered when installed and no planned repository is left
      -- out (gone and moved ones are not the App's to cover); done when, besides, every old
      -- hook of its covered repositories and of the organization has a settled outcome.
      select b.id, b.user_id, b.owner_id, b.state,
             b.installation_id is not null
               and not exists (select 1 from app.batch_repo r where r.batch_id = b.id and r.coverage in ('not_covered', 'unknown')) as covered,
             not exists (
               select 1 from app.batch_repo r cross join unnest(r.hook_ids) h(id) left join app.cleanup_task t on t.hook_id = h.id
                where r.batch_id = b.id and r.coverage = 'covered' and (t.hook_id is null or t.state not in (${sql.join(SETTLED)}))
             ) and not exists (
               select 1 from app.batch_org_hook o left join app.cleanup_task t on t.hook_id = o.hook_id
                where o.batch_id = b.id and (t.hook_id is null or t.state not in (${sql.join(SETTLED)}))
             ) as settled
        from app.batch b
    ), owners as (
      select owner_id, bool_or(state = 'request_pending') as asked, bool_and(covered) as covered, bool_and(covered and settled) as done
        from batches group by owner_id
    )
    select
      (select count(*)::int from app.inventory) as users_started,
      (select count(*)::int from (select user_id from batches group by user_id having bool_and(covered and settled)) u) as users_finished,
      (select count(*)::int from live) as installed,
      (select count(*)::int from owners o where o.asked and o.owner_id not in (select owner_id from live)) as waiting,
      (select count(*)::int from owners o join live using (owner_id) where o.covered) as covered,
      (select count(*)::int from owners o join live using (owner_id) where o.done) as done,
      (select count(*)::int from legacy.webhooks) as hooks,
      (select count(*)::int from app.cleanup_task where state in ('removed', 'already_absent')) as removed,
      (select count(*)::int from app.cleanup_task where state in ('pending', 'attempting')) as remaining,
      (select count(*)::int from app.cleanup_task where state in ('not_covered', 'needs_manual')) as attention`.execute(db)
  const r = rows[0]!
  return {
    usersStarted: r.users_started,
    usersFinished: r.users_finished,
    owners: { installed: r.installed, waiting: r.waiting, covered: r.covered, done: r.done },
    hooks: { total: r.hooks, removed: r.removed, remaining: r.remaining, attention: r.attention },
  }
}

/** Owners waiting for an org owner's approval, oldest request first: who asked, and whom GitHub named to approve. */
export async function pendingApprovals(db: Kysely<Database>, limit: number) {
  return db
    .selectFrom('app.batch as b')
    .innerJoin('app.inventory as u', 'u.user_id', 'b.user_id')
    .select(['b.owner_id', 'b.owner_login', 'b.approvers', 'b.updated_at', 'u.user_id', 'u.user_login'])
    .where('b.state', '=', 'request_pending')
    .orderBy('b.updated_at')
    .limit(limit)
    .execute()
}

/** Old hooks that need a person or were kept for lost coverage, with the reason, newest first. */
export async function needsAttention(db: Kysely<Database>, limit: number) {
  return db
    .selectFrom('app.cleanup_task')
    .select(['hook_id', 'kind', 'owner_id', 'owner_login', 'repo_id', 'repo_name', 'state', 'reason', 'updated_at'])
    .where('state', 'in', ['needs_manual', 'not_covered'])
    .orderBy('updated_at', 'desc')
    .limit(limit)
    .execute()
}

/** Old hooks gone (removed or found already gone) per day (UTC) over the last `days`, oldest first, with the running total. */
export async function removalsByDay(db: Kysely<Database>, days: number, now = new Date()): Promise<{ day: string; removed: number; total: number }[]> {
  const { rows } = await sql<{ day: string; removed: number; before: number }>`
    with span as (
      select generate_series((${now}::timestamptz at time zone 'UTC')::date - (${days - 1})::int, (${now}::timestamptz at time zone 'UTC')::date, interval '1 day')::date as day
    ), per_day as (
      select (at at time zone 'UTC')::date as day, count(*)::int as removed
        from app.audit_event
       where action = 'hook_cleanup' and outcome in ('removed', 'already_absent')
         and at >= (${now}::timestamptz at time zone 'UTC')::date - (${days - 1})::int
       group by 1
    )
    select to_char(s.day, 'YYYY-MM-DD') as day, coalesce(p.removed, 0) as removed,
           (select count(*)::int from app.audit_event where action = 'hook_cleanup' and outcome in ('removed', 'already_absent')
              and at < (${now}::timestamptz at time zone 'UTC')::date - (${days - 1})::int) as before
      from span s left join per_day p using (day)
     order by s.day`.execute(db)
  // The span has a row for each of its days, each carrying the count from before it.
  let total = rows[0]!.before
  return rows.map((r) => {
    total += r.removed
    return { day: r.day, removed: r.removed, total }
  })
}
