import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { tasksOf, type CleanupTask } from './cleanup-task.js'
import { inOneSnapshot, keptReads, rowVersions } from './kept-reads.js'

// The wizard's page shows the removal task of each old hook of the user's plan, and reads them
// on every visit and every reload while removal runs: 2,000 rows for a large user, parsed into
// objects each time, when the page kept (rendered-pages.ts) was made from exactly the same
// rows. An instance keeps the tasks it read per user, with the fingerprint of their rows, as
// the plan cache keeps plans; Postgres still finds the rows, but sends one digest of them.

/** The SQL of tasksFingerprint's value, for a statement that reads it with other things. */
export const tasksFingerprintSql = (hookIds: string) => sql<string>`(select md5(${sql.raw(rowVersions('t'))}) from app.cleanup_task t where t.hook_id = any(${hookIds}::bigint[]))`

/** One string that changes whenever a task of `hookIds` (a Postgres array) is written, added or removed. */
export async function tasksFingerprint(db: Kysely<Database>, hookIds: string): Promise<string> {
  const { rows } = await sql<{ fingerprint: string }>`select ${tasksFingerprintSql(hookIds)} as fingerprint`.execute(db)
  return rows[0]!.fingerprint
}

export interface TaskCache {
  /**
   * The tasks of `hookIds` as tasksOf reads them, kept per user while their rows are unchanged;
   * in `db`'s snapshot when it is a repeatable read transaction, else in one of their own.
   */
  load(db: Kysely<Database>, userId: number, hookIds: string): Promise<Map<number, CleanupTask>>
  /** The tasks kept for the user, with their fingerprint (tasksFingerprintSql's), if any. */
  peek(userId: number): { fingerprint: string; value: Map<number, CleanupTask> } | undefined
}

/** Keeps the tasks of the `size` users read most recently. Maps handed out are shared: never change one. */
export function taskCache(size = 32): TaskCache {
  // The same fingerprint is the same rows, whichever hooks were asked for: the kept map holds.
  const kept = keptReads<Map<number, CleanupTask>>(size)
  return {
    load: (db, userId, hookIds) => inOneSnapshot(db, async (trx) => kept.get(userId, await tasksFingerprint(trx, hookIds), () => tasksOf(trx, hookIds))),
    peek: (userId) => kept.peek(userId),
  }
}
