import { randomUUID } from 'node:crypto'
import fastifyFormbody from '@fastify/formbody'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Db } from './db/connect.js'
import { loggerOptions, type LogDestination } from './logger.js'
import { databasePlugin } from './plugins/database.js'
import { errorHandlerPlugin } from './plugins/error-handler.js'
import { securityHeadersPlugin } from './plugins/security-headers.js'
import { staffAccessPlugin } from './plugins/staff-access.js'
import { viewsPlugin } from './plugins/views.js'
import healthRoutes from './routes/health.js'
import staffInventoryRoutes from './routes/staff-inventory.js'

export interface ServerOptions {
  db: Db
  logLevel: string // pino level; 'silent' in tests
  publicUrl: string // this service's external base URL, no trailing slash
  secureCookies: boolean
  staffPagesOpen: boolean // true in `npm run demo`; false in production until staff sign-in exists
  /** Where log lines go instead of stdout (tests read them). */
  logStream?: LogDestination
}

const HEALTH_TIMEOUT_MS = 2_000

/**
 * The whole HTTP application, ready to `listen` or `inject`. The database stays the caller's:
 * closing the app does not close it.
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(options.logLevel, options.logStream),
    // Unguessable and unique across restarts and instances, so the id a user reads off an
    // error page finds exactly their request in the logs.
    genReqId: () => randomUUID(),
  })

  // External plugins first, then the app's own, then routes (the layout of fastify/demo).
  await app.register(securityHeadersPlugin, { secure: options.secureCookies })
  await app.register(fastifyFormbody)
  await app.register(viewsPlugin, { defaultContext: { staffPagesOpen: options.staffPagesOpen, title: 'oauth-to-app' } })

  await app.register(databasePlugin, { db: options.db.db })
  await app.register(errorHandlerPlugin)
  await app.register(staffAccessPlugin, { open: options.staffPagesOpen })

  await app.register(healthRoutes, { timeoutMs: HEALTH_TIMEOUT_MS })
  await app.register(staffInventoryRoutes)
  app.get('/', async (_request, reply) => reply.view('home.eta', { title: 'oauth-to-app' }))

  return app
}
