import type { SessionStore } from '@fastify/session'
import type { Session } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from './database.js'

// @fastify/session's store in app.session (the table connect-pg-simple would use), so sessions
// survive restarts and are shared by every instance. Callback-style, as the plugin expects.

type Callback = (error?: unknown) => void

/** Sessions without a cookie expiry (none here: every cookie has one) live a day. */
const FALLBACK_LIFETIME_MS = 24 * 3600_000

function expiry(session: Session, now: number): Date {
  const expires = session.cookie?.expires
  return expires ? new Date(expires) : new Date(now + FALLBACK_LIFETIME_MS)
}

export class PostgresSessionStore implements SessionStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  set(sid: string, session: Session, callback: Callback): void {
    const expire = expiry(session, this.now())
    this.db
      .insertInto('app.session')
      .values({ sid, sess: JSON.stringify(session), expire })
      .onConflict((oc) => oc.column('sid').doUpdateSet({ sess: JSON.stringify(session), expire }))
      .execute()
      .then(() => callback(), callback)
  }

  get(sid: string, callback: (error: unknown, session?: Session | null) => void): void {
    this.db
      .selectFrom('app.session')
      .select('sess')
      .where('sid', '=', sid)
      .where('expire', '>', new Date(this.now()))
      .executeTakeFirst()
      .then((row) => callback(null, (row?.sess as Session | undefined) ?? null), callback)
  }

  destroy(sid: string, callback: Callback): void {
    this.db
      .deleteFrom('app.session')
      .where('sid', '=', sid)
      .execute()
      .then(() => callback(), callback)
  }

  /** Removes expired sessions; returns how many. */
  async prune(): Promise<number> {
    const result = await this.db.deleteFrom('app.session').where('expire', '<=', new Date(this.now())).executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}
