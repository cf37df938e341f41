import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { CompiledQuery, type Kysely } from 'kysely'
import PgBoss from 'pg-boss'
import type pg from 'pg'
import type { Database } from '../db/database.js'
import { runQueue, type QueueRunner } from './queue-runner.js'
import { queueSettings, type JobHandlers, type JobName, type Jobs, type QueueSetting } from '../migration/jobs.js'

// Background work on pg-boss, in the service's own database. A job is sent inside the
// transaction of the change that calls for it, so a change is never without its job nor a job
// without its change; the worker is then woken at once instead of at its next poll.

export interface SendOptions {
  /** On a stately queue, at most one job of this key waits (and one runs). */
  singletonKey?: string
  /** Not before this many seconds from now. */
  startAfterSeconds?: number
}

export interface JobQueue {
  /**
   * Sends inside the caller's transaction: true when a job was queued, false when a stately
   * queue already holds one waiting for the same `singletonKey` (that one will do).
   */
  send<N extends JobName>(db: Kysely<Database>, name: N, data: Jobs[N], options?: SendOptions): Promise<boolean>
  /** Wakes the workers, after the transaction that sent jobs has committed. */
  wake(): void
}

export interface QueueOptions {
  /** For pg-boss's own statements (polls, starts and ends of jobs); jobs use the service's. */
  pool: pg.Pool
  handlers: JobHandlers
  /** Each queue's policy and expiry; jobs.ts's by default. */
  settings?: { [N in JobName]: QueueSetting }
  /**
   * Jobs of one queue this instance runs at once (default 8). One at a time planned one user at
   * a time per instance, whatever the lanes allow: 200 users signing in together waited 100 s.
   * Jobs of one subject still never run together (stately queues, leases).
   */
  workersPerQueue?: number
  /** A failed job is tried again this many times, with growing delays. */
  retryLimit?: number
  /** Waits, in ms: before trying to start again when the database was unreachable (5 s), for the queue at start-up before the service answers anyway (1 s), and by a send for a queue still starting (5 s). */
  timing?: { restartDelayMs?: number; readyWaitMs?: number; sendWaitMs?: number }
  /**
   * Seconds between runs of pg-boss's upkeep (120 by default; one instance runs it at a time):
   * it fails jobs past their expiry, archives finished jobs after 12 hours and deletes archived
   * ones after 7 days, so the job table does not grow with every migration ever made.
   */
  maintenanceIntervalSeconds?: number
}

declare module 'fastify' {
  interface FastifyInstance {
    queue: JobQueue
  }
}

/** Each queue also polls, for jobs sent by another instance or left by one that stopped. */
const POLLING_INTERVAL_MS = 2_000
/** How long closing waits for the jobs under way; one cut off is started again after its expiry. */
const STOP_TIMEOUT_MS = 10_000

const plugin: FastifyPluginAsync<QueueOptions> = async (app, options) => {
  const newBoss = (): PgBoss => {
    const created = new PgBoss({
      db: { executeSql: (text, values) => options.pool.query(text, values) },
      schema: 'pgboss',
      schedule: false,
      ...(options.maintenanceIntervalSeconds === undefined ? {} : { maintenanceIntervalSeconds: options.maintenanceIntervalSeconds }),
    })
    created.on('error', (error) => app.log.error({ err: error }, 'job queue error'))
    return created
  }
  // pg-boss cannot be started again after a failed start: each attempt gets a new one.
  let boss = newBoss()
  const settings = options.settings ?? queueSettings
  const runners = new Map<JobName, QueueRunner>()
  const timing = { restartDelayMs: 5_000, readyWaitMs: 1_000, sendWaitMs: 5_000, ...options.timing }
  let started = false
  /** Started, with every queue created and worked. */
  let running = false
  let markRunning!: () => void
  const isRunning = new Promise<void>((resolve) => (markRunning = resolve))
  /** Resolves after `ms`, or at once if `until` settles first; never keeps the process alive. */
  const within = async (until: Promise<unknown>, ms: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([until, new Promise((resolve) => (timer = setTimeout(resolve, ms).unref()))])
    clearTimeout(timer)
  }

  app.decorate('queue', {
    async send(db, name, data, sendOptions = {}) {
      // Right after start-up the queue may still be creating its tables.
      if (!running) await within(isRunning, timing.sendWaitMs)
      const id = await boss.send(name, data, {
        retryLimit: options.retryLimit ?? 5,
        retryBackoff: true,
        ...(sendOptions.singletonKey === undefined ? {} : { singletonKey: sendOptions.singletonKey }),
        ...(sendOptions.startAfterSeconds === undefined ? {} : { startAfter: sendOptions.startAfterSeconds }),
        db: { executeSql: async (text, values) => ({ rows: (await db.executeQuery(CompiledQuery.raw(text, values))).rows as unknown[] }) },
      })
      if (id !== null) return true
      // A stately queue refuses a second waiting job of a key without a word, as it does a job
      // for a queue it has not created: only the first is an answer.
      if (runners.has(name) && sendOptions.singletonKey !== undefined && settings[name].policy === 'stately') return false
      // Failing here rolls back the change that asked for it (GitHub then redelivers, the user retries).
      throw new Error(`the job queue "${name}" is not ready; nothing was changed`)
    },
    wake() {
      for (const runner of runners.values()) runner.wake()
    },
  } satisfies JobQueue)

  async function start(): Promise<void> {
    await boss.start()
    started = true
    for (const name of Object.keys(options.handlers) as JobName[]) {
      // A queue created by an earlier version keeps its old settings unless updated.
      const { slots, ...setting } = settings[name]
      await boss.createQueue(name, { name, ...setting })
      await boss.updateQueue(name, { name, ...setting })
      const handler = options.handlers[name] as (data: unknown) => Promise<void>
      runners.set(name, runQueue(boss, { name, slots: options.workersPerQueue ?? slots ?? 8, pollingIntervalMs: POLLING_INTERVAL_MS, handler, log: app.log }))
    }
    running = true
    markRunning()
  }

  // A database that is down when the service starts must not keep it from starting: pages say
  // so (503) and /healthz reports it, while the queue tries again until the database is back.
  let retry: NodeJS.Timeout | undefined
  let closing = false
  // The jobs under way end (or are cut off, and started again after their expiry) before
  // pg-boss stops; the pool stays the caller's.
  const stop = async (): Promise<void> => {
    const stopping = [...runners.values()]
    runners.clear()
    await Promise.all(stopping.map((runner) => runner.stop(STOP_TIMEOUT_MS)))
    await boss.stop({ graceful: false, close: false, wait: true })
  }
  const startOrRetry = async (): Promise<void> => {
    try {
      await start()
      // Closed while it was starting: onClose could not stop it.
      if (closing) await stop()
    } catch (error) {
      app.log.error({ err: error }, 'job queue could not start; trying again shortly')
      // Whatever this attempt got going (it may have failed half-way) stops with it.
      await stop().catch(() => {})
      started = false
      boss = newBoss()
      if (!closing) retry = setTimeout(() => void startOrRetry(), timing.restartDelayMs).unref()
    }
  }
  // Ready once the queue runs, or after a second when the database is slow or down (the queue
  // keeps trying): the service answers, and /healthz says what is wrong, either way.
  app.addHook('onReady', async () => within(startOrRetry(), timing.readyWaitMs))
  app.addHook('onClose', async () => {
    closing = true
    clearTimeout(retry)
    if (started) await stop()
  })
}

export const queuePlugin = fp(plugin, { name: 'queue' })
