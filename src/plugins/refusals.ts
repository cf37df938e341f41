import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { AuditEvent } from '../migration/audit.js'
import { flushRefusals, recordRefusal, type RecordRefusal } from '../migration/refusals.js'
import { clientAddress } from './client-address.js'

// Refusals on the record, counted per client and window (src/migration/refusals.ts), and the
// counts of ended windows written by every instance in turn, each window once.

export interface RefusalsOptions {
  db: Kysely<Database>
  /** The window refusals are counted in (a minute in production; tests: a few ms). */
  windowMs: number
}

declare module 'fastify' {
  interface FastifyInstance {
    /** A refusal by this request's client: an audit event, or a count towards one. */
    refusalsOf(request: FastifyRequest): RecordRefusal
  }
}

export const refusalsPlugin = fp<RefusalsOptions>(async (app, { db, windowMs }) => {
  app.decorate('refusalsOf', (request: FastifyRequest): RecordRefusal => {
    const client = clientAddress(request)
    return (kind, event: AuditEvent) => recordRefusal(db, event, { client, kind }, windowMs)
  })

  const flush = () => flushRefusals(db).catch((error: unknown) => app.log.warn({ err: error }, 'refusal counts not written yet; trying again shortly'))
  // Once a window at most, and at least once a minute, so no count waits long after its window.
  const timer = setInterval(() => void flush(), Math.min(windowMs, 60_000))
  timer.unref()
  app.addHook('onClose', async () => {
    clearInterval(timer)
    // Whatever has ended by now goes on the record before the process stops.
    await flush()
  })
})
