import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { appendAudit, type AuditEvent } from './audit.js'

// Refusals are on the record without letting a flood grow the audit log without bound. Per
// client address, signed-in user (or nobody), owner (the one a signed state names, or none),
// kind of refusal and window (a minute in production): the first refusal is an audit event as
// before, with `refusals: 1`; the others are counted in app.refusal_tally and written as one
// event once the window has ended, with `refusals: n`. So a client costs the log at most two
// events per user, owner, kind and window, and the `refusals` of the events add up to the
// number of refusals exactly: a count leaves the tally only in the transaction that writes it.
// Every part of the key is bounded: addresses by the rate limit, users by GitHub accounts
// signed in, owners by states this service signed, kinds by the list below.

/** What was refused, from a fixed list: made-up requests cannot open new tallies by varying it. */
export type RefusalKind =
  | 'unknown_link'
  | 'expired_link'
  | 'replanned'
  | 'other_account'
  | 'signed_out'
  | 'used_link'
  | 'no_installation_id'
  | 'not_listed'
  | 'other_owner'

export interface RefusalSource {
  /** The client's address, as clientAddress() tells it. */
  client: string
  kind: RefusalKind
}

/** Records one refusal (an event, or a count towards one). */
export type RecordRefusal = (kind: RefusalKind, event: AuditEvent) => Promise<void>

export async function recordRefusal(db: Kysely<Database>, event: AuditEvent, source: RefusalSource, windowMs: number): Promise<void> {
  const actorId = event.actor.githubId ?? 0
  const ownerId = event.target?.ownerId ?? 0
  await db.transaction().execute(async (trx) => {
    // The window by the database's clock, the same on every instance.
    const { rows } = await sql<{ refusals: number; window_start: Date }>`
      with w as (select to_timestamp(floor(extract(epoch from now()) * 1000 / ${windowMs}) * ${windowMs} / 1000.0) as start)
      insert into app.refusal_tally as t
        (client, actor_github_id, actor_login, owner_id, owner_login, action, kind, window_start, window_end, refusals)
      select ${source.client}, ${actorId}, ${event.actor.login ?? null}, ${ownerId}, ${event.target?.ownerLogin ?? null},
        ${event.action}, ${source.kind}, w.start, w.start + ${windowMs} * interval '1 millisecond', 1
      from w
      on conflict (client, actor_github_id, owner_id, kind, window_start) do update set refusals = t.refusals + 1
      returning refusals, window_start`.execute(trx)
    const { refusals, window_start: windowStart } = rows[0]!
    if (refusals > 1) return
    const { id } = await appendAudit(trx, { ...event, detail: { ...event.detail, client: source.client, refusalKind: source.kind, refusals: 1 } })
    await trx
      .updateTable('app.refusal_tally')
      .set({ first_event_id: id })
      .where('client', '=', source.client)
      .where('actor_github_id', '=', actorId)
      .where('owner_id', '=', ownerId)
      .where('kind', '=', source.kind)
      .where('window_start', '=', windowStart)
      .execute()
  })
}

function utc(at: Date): string {
  return at.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')
}

/**
 * Writes the counts of windows that have ended, up to `limit` of them, and removes them from
 * the tally in the same transaction. Instances flushing at once take different rows.
 * Returns how many windows it took.
 */
export async function flushRefusals(db: Kysely<Database>, limit = 500): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<Database['app.refusal_tally']>`
      delete from app.refusal_tally where (client, actor_github_id, owner_id, kind, window_start) in (
        select client, actor_github_id, owner_id, kind, window_start from app.refusal_tally
        where window_end <= now() order by window_end limit ${limit} for update skip locked
      )
      returning *`.execute(trx)
    for (const row of rows) {
      const more = row.refusals - 1
      if (more === 0) continue
      // Set with the row's first refusal, in its transaction: a row with more has one.
      const first = row.first_event_id!
      await appendAudit(trx, {
        actor: { kind: 'user', ...(row.actor_github_id === 0 ? {} : { githubId: row.actor_github_id }), ...(row.actor_login === null ? {} : { login: row.actor_login }) },
        action: row.action,
        target: { ...(row.owner_id === 0 ? {} : { ownerId: row.owner_id }), ...(row.owner_login === null ? {} : { ownerLogin: row.owner_login }) },
        outcome: 'rejected',
        reason: `Refused ${more} more time${more === 1 ? '' : 's'} like event #${first} (${row.kind}) from ${row.client} between ${utc(row.window_start)} and ${utc(row.window_end)} UTC: counted in this one event instead of one event each.`,
        detail: {
          client: row.client,
          refusalKind: row.kind,
          refusals: more,
          windowStart: row.window_start.toISOString(),
          windowEnd: row.window_end.toISOString(),
          firstEventId: first,
        },
      })
    }
    return rows.length
  })
}
