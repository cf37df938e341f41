import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { inOneSnapshot, keptReads, rowVersions as rowsOf } from './kept-reads.js'
import { loadPlan, type StoredPlan } from './plan-store.js'

// The wizard's page reads a user's whole plan on every visit, and its updates every second or
// two while something runs: thousands of repositories for a large user, most of the page's
// cost. An instance keeps the plans it read, each with a fingerprint of the rows it was read
// from, and reads a plan again only when the fingerprint has changed. The fingerprint is
// Postgres' own: every row version has its place (ctid) and the transaction that wrote it
// (xmin), and any insert, update or delete of a row leaves a different set of them, whichever
// instance or job wrote it. Postgres lists them over the rows the plan is read from, and sends
// their digest. The repositories' rows, most of a plan, are left out: a change to one writes
// its batch's row in the same transaction (migration 0020), so the batches' rows stand for
// them, and the fingerprint reads about 40 rows for 2,000 repositories instead of all of them
// (it took 8 ms a visit, most of what Postgres did for the page). (A row moved without a
// change, by VACUUM FULL or CLUSTER, only costs a reading.)
//
// The fingerprint and the plan are read in one snapshot, so the plan kept is exactly the rows
// its fingerprint digests, and the wizard's page, which reads the plan with its checks and
// removals in one snapshot, never pairs them with a plan of another moment.

/** The SQL of planFingerprint's value, for a statement that reads it with other things. */
export const planFingerprintSql = (userId: number) => sql<string | null>`(
    with inventory as (select ctid, xmin from app.inventory where user_id = ${userId}),
      batch as (select id, installation_id, ctid, xmin from app.batch where user_id = ${userId})
    select md5((select ${sql.raw(rowsOf('i'))} from inventory i)
      || '|' || (select ${sql.raw(rowsOf('b'))} from batch b)
      || '|' || (select ${sql.raw(rowsOf('o'))} from app.batch_org_hook o where o.batch_id in (select id from batch))
      || '|' || (select ${sql.raw(rowsOf('n'))} from app.installation n where n.id in (select installation_id from batch)))
    where exists (select 1 from inventory))`

/** One string that changes whenever any row of the user's plan does; undefined without a plan. */
export async function planFingerprint(db: Kysely<Database>, userId: number): Promise<string | undefined> {
  const { rows } = await sql<{ fingerprint: string | null }>`select ${planFingerprintSql(userId)} as fingerprint`.execute(db)
  return rows[0]!.fingerprint ?? undefined
}

export interface PlanCache {
  /**
   * The user's plan as loadPlan reads it: the kept one while its rows are unchanged. `db` is a
   * repeatable read transaction (the plan is then of its snapshot), or the database: the
   * fingerprint and the plan are then read in a snapshot of their own.
   */
  load(db: Kysely<Database>, userId: number): Promise<StoredPlan | undefined>
  /** The plan kept for the user, with its fingerprint (planFingerprintSql's), if any. */
  peek(userId: number): { fingerprint: string; value: StoredPlan | undefined } | undefined
}

/** Keeps the plans of the `size` users read most recently. Plans handed out are shared: never change one. */
export function planCache(size = 32): PlanCache {
  // A plan may be undefined here: gone between its fingerprint and its reading; the next
  // visit's fingerprint (none) lets it go.
  const kept = keptReads<StoredPlan | undefined>(size)
  return {
    load: (db, userId) =>
      inOneSnapshot(db, async (trx) => {
        const fingerprint = await planFingerprint(trx, userId)
        if (fingerprint === undefined) {
          kept.forget(userId)
          return undefined
        }
        return kept.get(userId, fingerprint, () => loadPlan(trx, userId))
      }),
    peek: (userId) => kept.peek(userId),
  }
}
