import type { SessionStore } from '@fastify/session'
import type { Session } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from './database.js'

// @fastify/session's store in app.session (the table connect-pg-simple would use), so sessions
// survive restarts and are shared by every instance. Callback-style, as the plugin expects.
//
// A session read from here is only ever updated, never inserted again: every response saves
// its session (rolling cookies), so a request that loaded a session before a sign-in (or a
// sign-out) in another tab destroyed it would otherwise bring the destroyed row back when it
// finished, and with it the old session id, signed in as before or holding a spent state.

declare module 'fastify' {
  interface Session {
    /** Set on a session loaded from the store: saving it updates its row if it still exists. */
    loaded?: true
  }
}

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
    const sess = JSON.stringify({ ...session, loaded: undefined })
    const saved =
      session.loaded === true
        ? this.db.updateTable('app.session').set({ sess, expire }).where('sid', '=', sid).execute()
        : this.db
            .insertInto('app.session')
            .values({ sid, sess, expire })
            .onConflict((oc) => oc.column('sid').doUpdateSet({ sess, expire }))
            .execute()
    saved.then(() => callback(), callback)
  }

  get(sid: string, callback: (error: unknown, session?: Session | null) => void): void {
    this.db
      .selectFrom('app.session')
      .select('sess')
      .where('sid', '=', sid)
      .where('expire', '>', new Date(this.now()))
      .executeTakeFirst()
      .then((row) => callback(null, row === undefined ? null : { ...(row.sess as Session), loaded: true }), callback)
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
