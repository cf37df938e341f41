import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { CompiledQuery, type Kysely } from 'kysely'
import PgBoss from 'pg-boss'
import type pg from 'pg'
import type { Database } from '../db/database.js'
import type { JobHandlers, JobName, Jobs } from '../migration/jobs.js'

// Background work on pg-boss, in the service's own database. A job is sent inside the
// transaction of the change that calls for it, so a change is never without its job nor a job
// without its change; the worker is then woken at once instead of at its next poll.

export interface JobQueue {
  /** Sends inside the caller's transaction. */
  send<N extends JobName>(db: Kysely<Database>, name: N, data: Jobs[N]): Promise<void>
  /** Wakes the workers, after the transaction that sent jobs has committed. */
  wake(): void
}

export interface QueueOptions {
  pool: pg.Pool
  handlers: JobHandlers
  /** A failed job is tried again this many times, with growing delays. */
  retryLimit?: number
  /** How long to wait before trying to start again when the database was unreachable. */
  restartDelayMs?: number
}

declare module 'fastify' {
  interface FastifyInstance {
    queue: JobQueue
  }
}

/** Workers also poll, for jobs sent by another instance or left by one that stopped. */
const POLLING_INTERVAL_SECONDS = 2

const plugin: FastifyPluginAsync<QueueOptions> = async (app, options) => {
  const newBoss = (): PgBoss => {
    const created = new PgBoss({
      db: { executeSql: (text, values) => options.pool.query(text, values) },
      schema: 'pgboss',
      schedule: false,
    })
    created.on('error', (error) => app.log.error({ err: error }, 'job queue error'))
    return created
  }
  // pg-boss cannot be started again after a failed start: each attempt gets a new one.
  let boss = newBoss()
  /** Worker ids by queue: a start tried again after a failure half-way does not work a queue twice. */
  const workers = new Map<JobName, string>()
  let started = false

  app.decorate('queue', {
    async send(db, name, data) {
      const id = await boss.send(name, data, {
        retryLimit: options.retryLimit ?? 5,
        retryBackoff: true,
        db: { executeSql: async (text, values) => ({ rows: (await db.executeQuery(CompiledQuery.raw(text, values))).rows as unknown[] }) },
      })
      // pg-boss drops a job for a queue it has not created yet without a word: failing here
      // rolls back the change that asked for it (GitHub then redelivers, the user retries).
      if (id === null) throw new Error(`the job queue "${name}" is not ready; nothing was changed`)
    },
    wake() {
      for (const id of workers.values()) boss.notifyWorker(id)
    },
  } satisfies JobQueue)

  async function start(): Promise<void> {
    await boss.start()
    started = true
    for (const name of Object.keys(options.handlers) as JobName[]) {
      if (workers.has(name)) continue
      await boss.createQueue(name)
      const handler = options.handlers[name] as (data: unknown) => Promise<void>
      const id = await boss.work<unknown>(name, { pollingIntervalSeconds: POLLING_INTERVAL_SECONDS }, async (jobs) => {
        for (const job of jobs) await handler(job.data)
      })
      workers.set(name, id)
    }
  }

  // A database that is down when the service starts must not keep it from starting: pages say
  // so (503) and /healthz reports it, while the queue tries again until the database is back.
  let retry: NodeJS.Timeout | undefined
  let closing = false
  const startOrRetry = async (): Promise<void> => {
    try {
      await start()
    } catch (error) {
      app.log.error({ err: error }, 'job queue could not start; trying again shortly')
      boss = newBoss()
      if (!closing) retry = setTimeout(() => void startOrRetry(), options.restartDelayMs ?? 5_000).unref()
    }
  }
  app.addHook('onReady', startOrRetry)
  app.addHook('onClose', async () => {
    closing = true
    clearTimeout(retry)
    // Jobs under way finish (or are retried later); the pool stays the caller's.
    if (started) await boss.stop({ graceful: true, close: false, wait: true, timeout: 10_000 })
  })
}

export const queuePlugin = fp(plugin, { name: 'queue' })
