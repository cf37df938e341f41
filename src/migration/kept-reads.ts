import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'

// What the wizard's page reads on every visit and reload (a user's plan, the removal tasks of
// its hooks) is thousands of rows for a large user, and mostly unchanged since the last visit.
// An instance keeps what it read, with a fingerprint of the rows it was read from that Postgres
// computes (see plan-cache.ts), and reads again only when the fingerprint has changed.

/**
 * The SQL of an aggregate over rows aliased `alias`: every row version's place (ctid) and the
 * transaction that wrote it (xmin), so any insert, update or delete of one changes it.
 */
export const rowVersions = (alias: string): string => `coalesce(string_agg(${alias}.ctid::text || ${alias}.xmin::text, ',' order by ${alias}.ctid), '')`

export interface KeptReads<V> {
  /**
   * The value kept for `key` when it was read from rows of this `fingerprint`; else what `read`
   * reads, kept in its place. Read the fingerprint and the value in one snapshot, or the value
   * kept may be of other rows than the fingerprint digests.
   */
  get(key: number, fingerprint: string, read: () => Promise<V>): Promise<V>
  /**
   * What is kept for `key`, with the fingerprint of the rows it was read from, counted as read
   * now: for a reader that checks the fingerprint itself, together with other reads.
   */
  peek(key: number): { fingerprint: string; value: V } | undefined
  /** Lets the value kept for `key` go (its rows are gone). */
  forget(key: number): void
}

/** Keeps the values of the `size` keys read most recently. Values handed out are shared: never change one. */
export function keptReads<V>(size: number): KeptReads<V> {
  const kept = new Map<number, { fingerprint: string; value: V }>()
  const peek = (key: number): { fingerprint: string; value: V } | undefined => {
    const hit = kept.get(key)
    // Read most recently last: the first key is the one to let go.
    if (hit !== undefined) {
      kept.delete(key)
      kept.set(key, hit)
    }
    return hit
  }
  return {
    async get(key, fingerprint, read) {
      const hit = peek(key)
      if (hit?.fingerprint === fingerprint) return hit.value
      const value = await read()
      kept.delete(key)
      kept.set(key, { fingerprint, value })
      if (kept.size > size) kept.delete(kept.keys().next().value!)
      return value
    },
    peek,
    forget: (key) => kept.delete(key),
  }
}

/** `fn` in one snapshot: in `db` when it is a transaction (repeatable read, as the page's), else in a read-only one of its own. */
export function inOneSnapshot<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(fn)
}
