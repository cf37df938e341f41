import fastifyCookie from '@fastify/cookie'
import fastifyCsrf from '@fastify/csrf-protection'
import fastifySession from '@fastify/session'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { PostgresSessionStore } from '../db/session-store.js'

declare module 'fastify' {
  interface Session {
    /** When the user signed in (ms since epoch): the absolute timeout counts from here. */
    signedInAt?: number
  }
}

export interface SessionOptions {
  db: Kysely<Database>
  secret: string
  /** Secure cookies: everywhere but local development over http. */
  secure: boolean
  /** A session unused this long ends. */
  idleTimeoutMs: number
  /** A session ends this long after sign-in, however busy. */
  absoluteTimeoutMs: number
  /** Unsafe methods on these paths are authenticated otherwise (GitHub's webhook signature). */
  csrfExempt: readonly string[]
  now?: () => number
}

export const SESSION_COOKIE = 'o2a_session'

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

// Sessions live in Postgres; the cookie is HttpOnly, SameSite=Lax, signed, and renewed on
// every response so that the idle timeout counts from the last request.
export const sessionPlugin = fp<SessionOptions>(async (app, options) => {
  const now = options.now ?? Date.now
  // A session's expiry written again at most every 120th of the idle timeout (a minute of two hours) while it is only read.
  const store = new PostgresSessionStore(options.db, now, options.idleTimeoutMs / 120)
  // A failed request's answer does not save its session: what the request changed is not kept,
  // and most such failures are the database being away, where saving fails too, while the
  // error's page is being sent; fastify's own error handler then answered instead, with the
  // database's words. (Added before @fastify/session's hook, so it runs first.)
  app.addHook('onSend', async (request, reply) => {
    if (reply.statusCode >= 500) Reflect.set(request, 'session', null)
  })
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    secret: options.secret,
    cookieName: SESSION_COOKIE,
    store,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', secure: options.secure, path: '/', maxAge: options.idleTimeoutMs },
  })
  await app.register(fastifyCsrf, { sessionPlugin: '@fastify/session' })

  // In onRequest, right after the session is loaded: the staff console decides who may see
  // it before anything else runs (even the query's validation).
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const signedInAt = request.session.get('signedInAt')
    // A new, empty session: the old one is gone from the store, and handlers see a visitor.
    if (signedInAt !== undefined && now() - signedInAt > options.absoluteTimeoutMs) await request.session.regenerate()
  })
  // In preHandler, after the session is loaded and before any handler changes anything.
  app.addHook('preHandler', (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    const path = request.routeOptions.url ?? request.url
    if (!UNSAFE.has(request.method) || options.csrfExempt.includes(path)) {
      done()
      return
    }
    app.csrfProtection(request, reply, done)
  })

  const pruning = setInterval(() => void store.prune().catch((error: unknown) => app.log.warn({ err: error }, 'session prune failed')), 15 * 60_000)
  pruning.unref()
  app.addHook('onClose', async () => clearInterval(pruning))
})
