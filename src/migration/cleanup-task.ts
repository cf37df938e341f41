import { sql, type Kysely, type RawBuilder, type Selectable, type Transaction } from 'kysely'
import type { CleanupCredential, CleanupOutcome, CleanupTaskTable, Database } from '../db/database.js'
import { appendAudit, type AuditActor } from './audit.js'
import { freezeWhere } from './before-snapshot.js'

// Where removing one legacy hook stands, and every way it moves: the only module that writes
// `app.cleanup_task` (migration 0015). A task is created when its repository is covered (an
// organization hook: the organization, by an installation on all repositories) and a user
// agreed; it ends in exactly one terminal outcome. Every move is one conditional UPDATE with its
// audit event in the same transaction, so a move that no longer applies (a second run, a job
// started again after a crash) changes nothing and writes nothing.
//
//   pending ──intent──▶ attempting ──▶ removed | already_absent
//      └─────────────────────┴───────▶ skipped_foreign | not_covered | needs_manual
//   not_covered ──covered again──▶ pending

export type CleanupTask = Selectable<CleanupTaskTable>

const open = sql<boolean>`state in ('pending', 'attempting')`
const now = sql<Date>`now()`

/** The actor of what the cleanup does by itself: the service, on a user's agreement. */
const CLEANUP_ACTOR: AuditActor = { kind: 'system', login: 'cleanup' }

/**
 * Creates a task for every legacy hook the App now covers in these batches, and one audit event
 * per task, in the caller's transaction (the one that records the coverage or the agreement).
 * With `agreedOnly`, only batches whose user agreed to removal as soon as the App covers them.
 * A hook with a task keeps it, unless coverage was lost before it ran (not_covered): covered
 * again, it is pending again. Returns the owners that got tasks (their cleanup is to be run).
 */
export async function planTasks(trx: Transaction<Database>, batchIds: number[], actor: AuditActor, options: { agreedOnly: boolean; requestId?: string | undefined }): Promise<number[]> {
  const hooks = sql`
    with live as (
      select b.id, b.user_id, b.owner_id, b.owner_login, i.id as installation_id, i.repository_selection
      from app.batch b
      join app.installation i on i.id = b.installation_id and i.deleted_at is null and i.suspended_at is null
      where b.id = any(${batchIds}::bigint[])
        and (not ${options.agreedOnly} or exists (select 1 from app.cleanup_consent c where c.user_id = b.user_id and c.auto))
    )
    select w.hook_id, 'repo' as kind, live.user_id, live.owner_id, live.owner_login, r.repo_id, r.repo_name, w.github_user_id, live.installation_id
    from live
    join app.batch_repo r on r.batch_id = live.id and r.coverage = 'covered'
    join legacy.webhooks w on w.hook_id = any(r.hook_ids) and w.kind = 'repo'
    union all
    select w.hook_id, 'org', live.user_id, live.owner_id, live.owner_login, null, null, w.github_user_id, live.installation_id
    from live
    join app.batch_org_hook o on o.batch_id = live.id
    join legacy.webhooks w on w.hook_id = o.hook_id and w.kind = 'org'
    where live.repository_selection = 'all'
  `
  return insertTasks(trx, hooks, actor, options.requestId)
}

/** A legacy hook an installation covers, as the operator's sweep finds it (no user agreed: the operator did). */
export interface SweptHook {
  hook_id: number
  kind: 'repo' | 'org'
  repo_id: number | null
  repo_name: string | null
  enabled_by: number
}

/**
 * The legacy hooks an installation covers, found by the repositories it lists (by id, wherever
 * the legacy records place them) and, on all repositories, the account's organization hooks;
 * those with a task already (but for one kept while not covered) are left out.
 */
export async function coveredHooks(
  db: Kysely<Database>,
  installation: { accountId: number; repositorySelection: 'all' | 'selected' },
  listed: { id: number; name: string }[],
): Promise<SweptHook[]> {
  const { rows } = await sql<SweptHook>`
    select * from (
      select w.hook_id, 'repo' as kind, l.id as repo_id, l.name as repo_name, w.github_user_id as enabled_by
      from jsonb_to_recordset(${JSON.stringify(listed)}::jsonb) as l(id bigint, name text)
      join legacy.webhooks w on w.repo_id = l.id and w.kind = 'repo'
      union all
      select w.hook_id, 'org', null, null, w.github_user_id
      from legacy.webhooks w
      where w.kind = 'org' and w.owner_id = ${installation.accountId} and ${installation.repositorySelection} = 'all'
    ) h
    where not exists (select 1 from app.cleanup_task t where t.hook_id = h.hook_id and t.state <> 'not_covered')
    order by h.hook_id
  `.execute(db)
  return rows
}

/** The operator's sweep: tasks for these hooks of this installation's account, with their events. */
export async function sweepTasks(trx: Transaction<Database>, installation: { id: number; accountId: number; accountLogin: string }, hooks: SweptHook[], actor: AuditActor): Promise<number[]> {
  const given = sql`
    select h.hook_id, h.kind, null::bigint as user_id, ${installation.accountId}::bigint as owner_id, ${installation.accountLogin}::text as owner_login,
      h.repo_id, h.repo_name, h.enabled_by as github_user_id, ${installation.id}::bigint as installation_id
    from jsonb_to_recordset(${JSON.stringify(hooks)}::jsonb) as h(hook_id bigint, kind text, repo_id bigint, repo_name text, enabled_by bigint)
  `
  return insertTasks(trx, given, actor)
}

/** Inserts the tasks `hooks` selects (hook_id, kind, user_id, owner, repo, github_user_id, installation_id), one event each. */
async function insertTasks(trx: Transaction<Database>, hooks: RawBuilder<unknown>, actor: AuditActor, requestId?: string): Promise<number[]> {
  const { rows } = await sql<{ owner_id: number }>`
    with hooks as (${hooks}),
    planned as (
      insert into app.cleanup_task as t (hook_id, kind, owner_id, owner_login, repo_id, repo_name, enabled_by, requested_by)
      select distinct on (hook_id) hook_id, kind, owner_id, owner_login, repo_id, repo_name, github_user_id, user_id from hooks order by hook_id, user_id
      on conflict (hook_id) do update set
        state = 'pending', reason = null, owner_id = excluded.owner_id, owner_login = excluded.owner_login,
        repo_name = excluded.repo_name, requested_by = excluded.requested_by, updated_at = now()
        where t.state = 'not_covered'
      returning t.hook_id, t.owner_id, t.owner_login, t.repo_id, t.repo_name, t.kind, t.enabled_by, t.requested_by
    ),
    -- A hook about to be removed is frozen first, whoever enabled it: "before" survives cleanup.
    frozen as (${freezeWhere(sql`w.hook_id in (select hook_id from planned)`)}),
    audited as (
      insert into app.audit_event (actor_kind, actor_github_id, actor_login, action, owner_id, owner_login, repo_id, repo_name, hook_id, installation_id, outcome, request_id, detail)
      select ${actor.kind}, ${actor.githubId ?? null}, ${actor.login ?? null}, 'hook_removal_planned', p.owner_id, p.owner_login, p.repo_id, p.repo_name, p.hook_id,
        (select installation_id from hooks h where h.hook_id = p.hook_id limit 1), 'ok', ${requestId ?? null},
        jsonb_build_object('kind', p.kind, 'enabledBy', p.enabled_by, 'agreedBy', p.requested_by)
      from planned p
    )
    select distinct owner_id from planned
  `.execute(trx)
  return rows.map((r) => r.owner_id)
}

/** A user agreed to the removal of their old hooks: as the App covers them (auto), or only now. */
export async function agree(trx: Transaction<Database>, user: { id: number; login: string }, auto: boolean): Promise<void> {
  await trx
    .insertInto('app.cleanup_consent')
    .values({ user_id: user.id, user_login: user.login, auto })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ user_login: user.login, auto, agreed_at: now }))
    .execute()
}

/** Whether the user agreed, and how; undefined when never asked. */
export async function consentOf(db: Kysely<Database>, userId: number): Promise<{ auto: boolean } | undefined> {
  return db.selectFrom('app.cleanup_consent').select('auto').where('user_id', '=', userId).executeTakeFirst()
}

/** The open tasks of an owner, oldest hook first: `limit` at most, and at most `perUser` of each enabling user's. */
export async function openTasks(db: Kysely<Database>, ownerId: number, limit: number, perUser = limit): Promise<CleanupTask[]> {
  const { rows } = await sql<CleanupTask>`
    select hook_id, kind, owner_id, owner_login, repo_id, repo_name, enabled_by, requested_by, state, reason, credential, attempts, created_at, updated_at
    from (
      select *, row_number() over (partition by enabled_by order by hook_id) as nth
      from app.cleanup_task
      where owner_id = ${ownerId} and state in ('pending', 'attempting')
    ) t
    where nth <= ${perUser}
    order by hook_id
    limit ${limit}
  `.execute(db)
  return rows
}

function target(task: CleanupTask, installationId?: number) {
  return {
    ownerId: task.owner_id,
    ownerLogin: task.owner_login,
    hookId: task.hook_id,
    ...(task.repo_id === null ? {} : { repoId: task.repo_id, repoName: task.repo_name! }),
    ...(installationId === undefined ? {} : { installationId }),
  }
}

/**
 * One move of an open task, with its audit event, in one transaction; nothing (false) when the
 * task is no longer open: another run, or this one before a crash, finished it.
 */
async function move(
  db: Kysely<Database>,
  task: CleanupTask,
  set: { state: 'attempting' | CleanupOutcome; credential?: CleanupCredential; reason?: string; countAttempt?: boolean },
  event: { action: string; outcome: string; installationId?: number | undefined; detail: (attempts: number) => Record<string, unknown> },
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('app.cleanup_task')
      .set({
        state: set.state,
        reason: set.reason ?? null,
        updated_at: now,
        ...(set.credential === undefined ? {} : { credential: set.credential }),
        ...(set.countAttempt === true ? { attempts: sql<number>`attempts + 1` } : {}),
      })
      .where('hook_id', '=', task.hook_id)
      .where(open)
      .returning('attempts')
      .executeTakeFirst()
    if (row === undefined) return false
    await appendAudit(trx, {
      actor: CLEANUP_ACTOR,
      action: event.action,
      target: target(task, event.installationId),
      outcome: event.outcome,
      ...(set.reason === undefined ? {} : { reason: set.reason }),
      detail: { kind: task.kind, enabledBy: task.enabled_by, ...(set.credential === undefined ? {} : { credential: set.credential }), ...event.detail(row.attempts) },
    })
    return true
  })
}

/**
 * The intent, committed before the DELETE is sent: no hook is ever deleted without an event
 * on the record. False when the task is no longer open (another run finished it).
 */
export async function intent(db: Kysely<Database>, task: CleanupTask, credential: CleanupCredential, installationId?: number): Promise<boolean> {
  return move(db, task, { state: 'attempting', credential, countAttempt: true }, { action: 'hook_delete_attempted', outcome: 'attempted', installationId, detail: (attempt) => ({ attempt }) })
}

/** A terminal outcome with its event; nothing when the task was already finished. */
export async function finish(
  db: Kysely<Database>,
  task: CleanupTask,
  outcome: CleanupOutcome,
  how: { credential?: CleanupCredential; reason?: string; installationId?: number } = {},
): Promise<boolean> {
  const { installationId, ...set } = how
  return move(db, task, { state: outcome, ...set }, { action: 'hook_cleanup', outcome, installationId, detail: (attempts) => ({ attempts }) })
}

/**
 * Whether any old hook in the user's batches has a task on the batch's owner (the tasks the page
 * shows, task-cache.ts): cheap, for pages polled every second. Until a task of one of the
 * user's owners was ever written (none has an epoch), no hook is looked up: the lookups, one
 * index descent per hook among everyone else's, took 5 ms for 2,000 hooks.
 */
export async function anyTasks(db: Kysely<Database>, userId: number): Promise<boolean> {
  const { rows } = await sql<{ any: boolean }>`
    select exists (select 1 from app.batch b join app.task_epoch e on e.owner_id = b.owner_id where b.user_id = ${userId})
      and exists (
        select 1 from app.batch b join app.batch_repo r on r.batch_id = b.id join app.cleanup_task t on t.hook_id = any(r.hook_ids) and t.owner_id = b.owner_id where b.user_id = ${userId}
        union all
        select 1 from app.batch b join app.batch_org_hook o on o.batch_id = b.id join app.cleanup_task t on t.hook_id = o.hook_id and t.owner_id = b.owner_id where b.user_id = ${userId}
      ) as any
  `.execute(db)
  return rows[0]!.any
}

/** The tasks of these hooks on these owners (Postgres arrays, written once for a plan read on every visit), by hook id. */
export async function tasksOf(db: Kysely<Database>, scope: { owners: string; hooks: string }): Promise<Map<number, CleanupTask>> {
  const rows = await db
    .selectFrom('app.cleanup_task')
    .selectAll()
    .where(sql<boolean>`hook_id = any(${scope.hooks}::bigint[]) and owner_id = any(${scope.owners}::bigint[])`)
    .execute()
  return new Map(rows.map((r) => [r.hook_id, r]))
}
