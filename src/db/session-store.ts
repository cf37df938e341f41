import type { FastifySessionObject, SessionStore } from '@fastify/session'
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
    /** The expiry of the row it was loaded from (ms), to skip saves that would only move it a little. */
    storedExpire?: number
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
  /**
   * `touchAfterMs`: a session read and saved unchanged (rolling cookies save every response) is
   * written again only once its expiry would move by more than this, so that reading a page
   * does not cost a write; its row's expiry then trails its cookie's by at most this much.
   */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
    private readonly touchAfterMs = 0,
  ) {}

  set(sid: string, session: Session, callback: Callback): void {
    const expire = expiry(session, this.now())
    // The plugin hands over its session object, whose isModified() leaves the cookie out.
    const unchanged = session.loaded === true && session.storedExpire !== undefined && !(session as FastifySessionObject).isModified()
    if (unchanged && expire.getTime() - session.storedExpire! <= this.touchAfterMs) {
      callback()
      return
    }
    const sess = JSON.stringify({ ...session, loaded: undefined, storedExpire: undefined })
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
      .select(['sess', 'expire'])
      .where('sid', '=', sid)
      .where('expire', '>', new Date(this.now()))
      .executeTakeFirst()
      .then((row) => callback(null, row === undefined ? null : { ...(row.sess as Session), loaded: true, storedExpire: row.expire.getTime() }), callback)
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
