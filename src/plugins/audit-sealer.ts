import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { SEAL_BATCH, sealAudit } from '../migration/audit.js'

// Audit events commit without a lock and are chained afterwards: every instance runs this
// sealer, and the database lets one of them seal at a time (the others find it busy and come
// back at their next turn), so an event is sealed within a moment of its commit whichever
// instances are up.

export interface AuditSealerOptions {
  db: Kysely<Database>
  /** The pause between two turns, in ms. */
  intervalMs: number
  /** Events sealed in one transaction; a full batch means more wait, and the next one follows at once. */
  batchSize?: number
}

const plugin: FastifyPluginAsync<AuditSealerOptions> = async (app, options) => {
  const batchSize = options.batchSize ?? SEAL_BATCH
  let timer: NodeJS.Timeout | undefined
  let turn: Promise<void> = Promise.resolve()
  let closing = false

  const seal = async (): Promise<void> => {
    try {
      let result
      do {
        result = await sealAudit(options.db, batchSize)
      } while (result.sealed === batchSize && !closing)
    } catch (error) {
      // The database is away: the events wait for it, committed and unsealed, losing nothing.
      app.log.warn({ err: error }, 'audit events could not be sealed; trying again shortly')
    }
  }
  const schedule = (): void => {
    timer = setTimeout(() => {
      turn = seal().then(() => {
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
    await seal()
  })
}

export const auditSealerPlugin = fp(plugin, { name: 'audit-sealer' })
