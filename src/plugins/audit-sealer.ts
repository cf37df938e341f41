import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { sealPending } from '../migration/audit.js'

// Audit events commit without a lock and are chained afterwards: every instance runs this
// sealer, and the database lets one of them seal at a time (the others find it busy and come
// back at their next turn), so an event is sealed within a moment of its commit whichever
// instances are up.

export interface AuditSealerOptions {
  db: Kysely<Database>
  /** The pause between two turns, in ms. */
  intervalMs: number
  /** Events sealed in one transaction (default 1000); a turn seals batch after batch while there are more. */
  batchSize?: number
  /** How long closing waits for transactions still open, to seal their events too (default 1 s). */
  closeWaitMs?: number
}

const plugin: FastifyPluginAsync<AuditSealerOptions> = async (app, options) => {
  let timer: NodeJS.Timeout | undefined
  let turn: Promise<void> = Promise.resolve()
  let closing = false

  const seal = async (waitMs: number): Promise<void> => {
    try {
      await sealPending(options.db, waitMs, { batch: options.batchSize })
    } catch (error) {
      // The database is away: the events wait for it, committed and unsealed, losing nothing.
      app.log.warn({ err: error }, 'audit events could not be sealed; trying again shortly')
    }
  }
  const schedule = (): void => {
    timer = setTimeout(() => {
      turn = seal(0).then(() => {
        if (!closing) schedule()
      })
    }, options.intervalMs)
  }

  app.addHook('onReady', async () => schedule())
  // A last turn, so that a clean shutdown leaves nothing unsealed that could be sealed.
  app.addHook('onClose', async () => {
    closing = true
    clearTimeout(timer)
    await turn
    await seal(options.closeWaitMs ?? 1_000)
  })
}

export const auditSealerPlugin = fp(plugin, { name: 'audit-sealer' })
