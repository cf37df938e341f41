import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { Database } from '../db/database.js'
import { appendAudit, type AuditActor } from './audit.js'

// Freezing the legacy records (app.before_snapshot, migration 0018). A hook's record is copied
// the first time the service has reason to: its user's sign-in, a cleanup task for it (which
// may be another user's hook on the same owner), or the operator's snapshot of everyone. A
// record already frozen is never copied again, so "before" stays what it was when first seen.

/**
 * The insert of the legacy records `where` selects (a condition on `w`, legacy.webhooks) not yet
 * frozen. `skipFrozen` passes over frozen ones by key: for a few records (a user's), not for
 * everyone's, where a planner without statistics of the snapshot joins it by a nested loop that
 * scans, for each record, the rows this very insert adds (1,000,000 records ran for over 20
 * minutes); everyone's let each conflict instead.
 */
export function freezeWhere(where: RawBuilder<unknown>, { skipFrozen = true } = {}): RawBuilder<unknown> {
  return sql`
    insert into app.before_snapshot (hook_id, kind, owner_id, owner_login, owner_type, repo_id, repo_name, hook_url, enabled_by, enabled_by_login, enabled_at)
    select w.hook_id, w.kind, w.owner_id, w.owner_login, w.owner_type, w.repo_id, w.repo_name, w.hook_url, w.github_user_id, u.login, w.created_at
    from legacy.webhooks w
    left join legacy.oauth_users u on u.github_user_id = w.github_user_id
    where ${where}
      -- Every sign-in asks again: what is frozen is passed over by its key, not re-inserted to conflict.
      ${skipFrozen ? sql`and not exists (select 1 from app.before_snapshot s where s.hook_id = w.hook_id)` : sql``}
    -- Two sign-ins at once may both find a hook unfrozen.
    on conflict (hook_id) do nothing`
}

/** Freezes the hooks `userId` enabled; the number newly frozen. */
export async function freezeUser(db: Kysely<Database>, userId: number): Promise<number> {
  // An INSERT always reports the rows it wrote.
  return Number((await freezeWhere(sql`w.github_user_id = ${userId}`).execute(db)).numAffectedRows!)
}

export interface SnapshotResult {
  /** Records frozen by this call. */
  added: number
  /** Records frozen in all. */
  frozen: number
}

/** `oauth-to-app report:snapshot`: freezes every legacy record not frozen yet, with its event, in one transaction. */
export async function freezeAll(db: Kysely<Database>, actor: AuditActor): Promise<SnapshotResult> {
  return db.transaction().execute(async (trx) => {
    const added = Number((await freezeWhere(sql`true`, { skipFrozen: false }).execute(trx)).numAffectedRows!)
    const { frozen } = await trx.selectFrom('app.before_snapshot').select((eb) => eb.fn.countAll<number>().as('frozen')).executeTakeFirstOrThrow()
    await appendAudit(trx, { actor, action: 'before_snapshot', outcome: 'ok', detail: { added, frozen: Number(frozen) } })
    return { added, frozen: Number(frozen) }
  })
}

/** How much of the legacy inventory is frozen, and how much is not yet (the operators' report page). */
export async function snapshotCounts(db: Kysely<Database>): Promise<{ frozen: number; unfrozen: number }> {
  const { rows } = await sql<{ frozen: number; unfrozen: number }>`
    select (select count(*) from app.before_snapshot)::int as frozen,
      (select count(*) from legacy.webhooks w where not exists (select 1 from app.before_snapshot s where s.hook_id = w.hook_id))::int as unfrozen`.execute(db)
  return rows[0]!
}
