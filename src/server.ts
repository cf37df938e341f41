import { randomUUID } from 'node:crypto'
import fastifyFormbody from '@fastify/formbody'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import type { GitHubConfig, LegacyConfig, StaffRole, TrustProxy } from './config.js'
import { sidePool, type Db } from './db/connect.js'
import { loggerOptions, type LogDestination } from './logger.js'
import { fastifyTrustProxy } from './plugins/client-address.js'
import { auditSealerPlugin } from './plugins/audit-sealer.js'
import { databasePlugin } from './plugins/database.js'
import { errorHandlerPlugin, HttpError } from './plugins/error-handler.js'
import { securityHeadersPlugin } from './plugins/security-headers.js'
import { sessionPlugin } from './plugins/session.js'
import { viewerPlugin } from './plugins/viewer.js'
import { metricsPlugin } from './plugins/metrics.js'
import { staffAccessPlugin } from './plugins/staff-access.js'
import { viewsPlugin } from './plugins/views.js'
import { createGitHubClients } from './github/clients.js'
import { createGitHubLanes, type LaneTuning } from './github/lanes.js'
import { createOctokitClass } from './github/octokit.js'
import { installStateKey } from './migration/install-state.js'
import { jobHandlers } from './migration/jobs.js'
import { queuePlugin } from './plugins/queue.js'
import { rateLimitPlugin } from './plugins/rate-limit.js'
import { refusalsPlugin } from './plugins/refusals.js'
import { authRoutes } from './routes/auth.js'
import { setupRoutes } from './routes/github-setup.js'
import { webhookRoutes } from './routes/github-webhooks.js'
import healthRoutes from './routes/health.js'
import legacyHookRoutes from './routes/legacy-hooks.js'
import { wizardRoutes } from './routes/wizard.js'
import staffAuditRoutes from './routes/staff-audit.js'
import staffDashboardRoutes from './routes/staff-dashboard.js'
import staffInventoryRoutes from './routes/staff-inventory.js'
import staffReportRoutes from './routes/staff-reports.js'
import staffTimelineRoutes from './routes/staff-timelines.js'

export interface ServerOptions {
  db: Db
  logLevel: string // pino level; 'silent' in tests
  publicUrl: string // this service's external base URL, no trailing slash
  secureCookies: boolean
  /** STAFF: login (lower case) to role; `npm run demo` names its own. */
  staff: ReadonlyMap<string, StaffRole>
  sessionSecret: string
  github: GitHubConfig
  legacy: LegacyConfig
  /** A session unused this long ends (default 2 hours). */
  sessionIdleTimeoutMs?: number
  /** A session ends this long after sign-in, however busy (default 12 hours). */
  sessionAbsoluteTimeoutMs?: number
  /**
   * The proxies whose X-Forwarded-* headers are believed (TRUST_PROXY; default none): behind
   * a TLS-terminating proxy the request is then known to be https (Secure cookies are only
   * sent then) and the client's address is the one the proxy saw.
   */
  trustProxy?: TrustProxy
  /** Requests a minute one client may make to sign-in and the setup callback (default 120). */
  rateLimitPerMinute?: number
  /** The window refusals are counted in before one event stands for them (default a minute). */
  refusalWindowMs?: number
  /** Where log lines go instead of stdout (tests read them). */
  logStream?: LogDestination
  /** The base of the waits between retries of a failed GitHub request (default 1000 ms; tests: a few). */
  githubRetryAfterBaseMs?: number
  /** Repositories one job of an add run adds at most (default 100; tests: a few, to see several pieces). */
  addPieceSize?: number
  /** Hooks one cleanup run takes at most (default 200; tests: a few, to see several runs). */
  cleanupTasksPerRun?: number
  /** The pause between the audit sealer's turns (default 200 ms: an event is sealed well within a second of its commit). */
  auditSealIntervalMs?: number
  /** The lanes' waits (parks, polling, timeouts); tests make GitHub's minutes a few ms. */
  githubLanes?: Partial<LaneTuning>
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
    trustProxy: fastifyTrustProxy(options.trustProxy ?? false),
    // The router's own refusals (a path parameter over 100 characters, a malformed escape)
    // come before any route or plugin, so fastify answers them in its JSON; by default that
    // repeats the address, which may carry a one-time code someone pasted: said without it.
    frameworkErrors: (error, _request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      void (reply as FastifyReply).send(new HttpError(tooLong ? 414 : 400, tooLong ? 'This address is longer than any page of this service.' : 'This address is not well formed.'))
    },
  })
  // A request under way when closing starts kept its keep-alive connection open after its
  // answer for fastify's keepAliveTimeout (72 s), and closing waits for every connection before
  // it stops the queue and the pools: a shutdown during a webhook delivery outlasted
  // close-with-grace's 10 s, which then exits with the jobs under way cut off. Answers sent
  // while closing close their connection.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })
  if (options.secureCookies && (options.trustProxy ?? false) === false) {
    app.log.warn('PUBLIC_URL is https but TRUST_PROXY is not set: requests through a TLS-terminating proxy arrive as http, and sign-in cannot set its Secure cookie')
  }

  // External plugins first, then the app's own, then routes (the layout of fastify/demo).
  await app.register(securityHeadersPlugin, { secure: options.secureCookies, githubWebUrl: options.github.webUrl })
  await app.register(fastifyFormbody)
  // Only where strangers can make the service work or write: sign-in and the setup callback
  // (each refusal there is on the record). Per client address, shared by every instance.
  await app.register(rateLimitPlugin, { db: options.db.db, max: options.rateLimitPerMinute ?? 120, windowMs: 60_000 })
  await app.register(viewsPlugin, { defaultContext: { title: 'oauth-to-app' } })

  await app.register(databasePlugin, { db: options.db.db, pool: options.db.pool })
  await app.register(metricsPlugin, { db: options.db.db })
  await app.register(refusalsPlugin, { db: options.db.db, windowMs: options.refusalWindowMs ?? 60_000 })
  await app.register(auditSealerPlugin, { db: options.db.db, intervalMs: options.auditSealIntervalMs ?? 200 })
  const { writeSpacingMs, maxInFlight } = options.github
  const lanes = createGitHubLanes(options.db.pool, { writeSpacingMs, maxInFlight, ...options.githubLanes }, app.log)
  // Added before the queue: onClose hooks run last-first, so the lanes outlive the jobs.
  app.addHook('onClose', () => lanes.close())
  const GitHub = createOctokitClass({
    apiUrl: options.github.apiUrl,
    log: app.log,
    lanes,
    ...(options.githubRetryAfterBaseMs === undefined ? {} : { retryAfterBaseMs: options.githubRetryAfterBaseMs }),
  })
  const github = createGitHubClients(options.github, GitHub)
  // pg-boss's polls and job ends get connections of their own: behind a busy service pool they
  // waited past the connection timeout, and a job whose end is lost runs again.
  const queuePool = sidePool(options.db.pool, {
    max: 2,
    applicationName: 'oauth-to-app jobs',
    onError: (error) => app.log.warn({ err: error }, 'job queue: database connection lost'),
  })
  // Added before the queue: its pool outlives the queue's stop.
  app.addHook('onClose', () => queuePool.end())
  const handlers = jobHandlers(options.db.db, github, {
    queue: () => app.queue,
    log: app.log,
    hookUrl: options.legacy.hookUrl,
    ...(options.addPieceSize === undefined ? {} : { addPieceSize: options.addPieceSize }),
    ...(options.cleanupTasksPerRun === undefined ? {} : { cleanupTasksPerRun: options.cleanupTasksPerRun }),
  })
  await app.register(queuePlugin, { pool: queuePool, handlers })
  await app.register(sessionPlugin, {
    db: options.db.db,
    secret: options.sessionSecret,
    secure: options.secureCookies,
    idleTimeoutMs: options.sessionIdleTimeoutMs ?? 2 * 3600_000,
    absoluteTimeoutMs: options.sessionAbsoluteTimeoutMs ?? 12 * 3600_000,
    csrfExempt: ['/github/webhooks'],
  })
  await app.register(errorHandlerPlugin)
  await app.register(viewerPlugin, { staff: options.staff })
  await app.register(staffAccessPlugin, { db: options.db.db, staff: options.staff })

  const stateKey = installStateKey(options.sessionSecret)
  await app.register(authRoutes, { github, publicUrl: options.publicUrl, staff: options.staff })
  await app.register(wizardRoutes, { github, stateKey, legacy: options.legacy })
  await app.register(setupRoutes, { github, stateKey, publicUrl: options.publicUrl })
  await app.register(webhookRoutes, { secret: options.github.webhookSecret })
  await app.register(healthRoutes, { timeoutMs: HEALTH_TIMEOUT_MS })
  await app.register(legacyHookRoutes, { secret: options.legacy.receiverSecret })
  await app.register(staffInventoryRoutes)
  await app.register(staffAuditRoutes)
  await app.register(staffTimelineRoutes)
  await app.register(staffDashboardRoutes)
  await app.register(staffReportRoutes)
  app.get('/', async (_request, reply) => reply.view('home.eta', { title: 'oauth-to-app' }))

  return app
}
