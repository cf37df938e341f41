import type { FastifyPluginAsync } from 'fastify'
import { sql } from 'kysely'
import { quieter } from '../logger.js'

export interface HealthOptions {
  /** How long the database may take to answer before the service reports itself unavailable. */
  timeoutMs: number
}

type Health = { status: 'ok'; database: 'ok' } | { status: 'unavailable'; database: 'unreachable' }

const healthSchema = {
  type: 'object',
  properties: { status: { type: 'string' }, database: { type: 'string' } },
  required: ['status', 'database'],
} as const

// For load balancers and uptime checks: 200 only when the service can use its database.
const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, options) => {
  app.get(
    '/healthz',
    {
      schema: { response: { 200: healthSchema, 503: healthSchema } },
      // Probes arrive every few seconds; only a failure is worth a log line.
      logLevel: quieter('warn', app.log.level),
    },
    async (request, reply): Promise<Health> => {
      reply.header('cache-control', 'no-store')
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the database did not answer within ${options.timeoutMs} ms`)), options.timeoutMs)
      })
      try {
        await Promise.race([sql`select 1`.execute(app.db), timeout]).finally(() => clearTimeout(timer))
        return { status: 'ok', database: 'ok' }
      } catch (error) {
        request.log.error({ err: error }, 'health check: database unreachable')
        reply.code(503)
        return { status: 'unavailable', database: 'unreachable' }
      }
    },
  )
}

export default healthRoutes
