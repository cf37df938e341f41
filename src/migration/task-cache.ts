import { createHash } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { tasksOf, type CleanupTask } from './cleanup-task.js'
import { inOneSnapshot, keptReads } from './kept-reads.js'

// The wizard's page shows the removal task of each old hook of the user's plan, and reads them
// on every visit and every reload while removal runs: 2,000 rows for a large user, parsed into
// objects each time, when the page kept (rendered-pages.ts) was made from exactly the same
// rows. An instance keeps the tasks it read per user, with the fingerprint of their rows, as
// the plan cache keeps plans. The fingerprint is the epochs of the plan's owners (migration
// 0021: each moves with any write of a task of its owner) and the scope's own digest: a visit
// reads 40 rows, where a digest of the task rows themselves looked up each of 2,000 hooks in
// the task index, among everyone else's hooks (4.5 to 9 ms of Postgres a visit, measured).
// The tasks shown are a plan's hooks' tasks on the plan's owners: a task that names another
// owner (its repository moved there since the plan) shows once the plan is made again.

/** Which tasks a page shows: those of these hooks on these owners. Made once per plan kept. */
export interface TaskScope {
  /** Postgres array literals. */
  owners: string
  hooks: string
  /** A digest of the two: the fingerprint's part that tells one scope from another. */
  key: string
}

export function taskScope(ownerIds: readonly number[], hookIds: readonly number[]): TaskScope {
  const owners = `{${ownerIds.join(',')}}`
  const hooks = `{${hookIds.join(',')}}`
  return { owners, hooks, key: createHash('md5').update(owners).update('|').update(hooks).digest('hex') }
}

/** The SQL of tasksFingerprint's value, for a statement that reads it with other things. */
export const tasksFingerprintSql = (scope: TaskScope) =>
  sql<string>`(select ${scope.key}::text || '|' || coalesce(string_agg(e.owner_id || ':' || e.epoch, ',' order by e.owner_id), '') from app.task_epoch e where e.owner_id = any(${scope.owners}::bigint[]))`

/** One string that changes whenever a task of the scope's owners is written, added or removed, or the scope changes. */
export async function tasksFingerprint(db: Kysely<Database>, scope: TaskScope): Promise<string> {
  const { rows } = await sql<{ fingerprint: string }>`select ${tasksFingerprintSql(scope)} as fingerprint`.execute(db)
  return rows[0]!.fingerprint
}

export interface TaskCache {
  /**
   * The tasks of `scope` as tasksOf reads them, kept per user while their rows and the scope are
   * unchanged; in `db`'s snapshot when it is a repeatable read transaction, else in one of their own.
   */
  load(db: Kysely<Database>, userId: number, scope: TaskScope): Promise<Map<number, CleanupTask>>
  /** The tasks kept for the user, with their fingerprint (tasksFingerprintSql's), if any. */
  peek(userId: number): { fingerprint: string; value: Map<number, CleanupTask> } | undefined
}

/** Keeps the tasks of the `size` users read most recently. Maps handed out are shared: never change one. */
export function taskCache(size = 32): TaskCache {
  // The same fingerprint is the same scope and the same rows: the kept map holds.
  const kept = keptReads<Map<number, CleanupTask>>(size)
  return {
    load: (db, userId, scope) => inOneSnapshot(db, async (trx) => kept.get(userId, await tasksFingerprint(trx, scope), () => tasksOf(trx, scope))),
    peek: (userId) => kept.peek(userId),
  }
}
