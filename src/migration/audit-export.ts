import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'

// The audit log for an outside party, who checks it without access to the database: each
// sealed event in chain order as one JSON line, with its place in the chain, the hash before
// it, its own hash, and the exact text that was hashed (app.audit_canonical). audit-file.ts
// checks such a file.

/** One line of an export. */
export interface ExportedLink {
  seq: number
  /** Hex of the previous event's hash (all zeros for the first event of the log). */
  prev_hash: string
  /** Hex of SHA-256(prev_hash bytes ‖ UTF-8 of canonical). */
  hash: string
  /** The event as it was hashed: a JSON object as text. */
  canonical: string
}

/** Rows read per query. */
const PAGE = 5_000

/**
 * Every sealed event from the first written at or after `since` (from the start without it) to
 * the end of the chain, in chain order, as lines, a query's worth at a time; `counted.events`
 * says how many so far.
 */
export async function* auditLines(db: Kysely<Database>, since: Date | undefined, counted: { events: number }): AsyncGenerator<string> {
  let after = 0
  if (since !== undefined) {
    // The chain goes on unbroken from the first event of the period, so a reader can check the
    // links; events written earlier than `since` but sealed after it come along.
    const { rows } = await sql<{ seq: number | null }>`
      select min(c.seq) as seq from app.audit_chain c join app.audit_event e on e.id = c.event_id where e.at >= ${since}`.execute(db)
    if (rows[0]!.seq === null) return
    after = rows[0]!.seq - 1
  }
  for (;;) {
    const { rows } = await sql<ExportedLink>`
      select c.seq, encode(c.prev_hash, 'hex') as prev_hash, encode(c.hash, 'hex') as hash, app.audit_canonical(e) as canonical
        from app.audit_chain c join app.audit_event e on e.id = c.event_id
       where c.seq > ${after}
       order by c.seq
       limit ${PAGE}`.execute(db)
    if (rows.length === 0) return
    counted.events += rows.length
    yield rows.map((r) => `${JSON.stringify({ seq: Number(r.seq), prev_hash: r.prev_hash, hash: r.hash, canonical: r.canonical })}\n`).join('')
    after = Number(rows.at(-1)!.seq)
  }
}
