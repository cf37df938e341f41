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
}

declare module 'fastify' {
  interface FastifyInstance {
    queue: JobQueue
  }
}

/** Workers also poll, for jobs sent by another instance or left by one that stopped. */
const POLLING_INTERVAL_SECONDS = 2

const plugin: FastifyPluginAsync<QueueOptions> = async (app, options) => {
  const boss = new PgBoss({
    db: { executeSql: (text, values) => options.pool.query(text, values) },
    schema: 'pgboss',
    schedule: false,
  })
  boss.on('error', (error) => app.log.error({ err: error }, 'job queue error'))
  const workers: string[] = []
  let started = false

  app.decorate('queue', {
    async send(db, name, data) {
      await boss.send(name, data, {
        retryLimit: options.retryLimit ?? 5,
        retryBackoff: true,
        db: { executeSql: async (text, values) => ({ rows: (await db.executeQuery(CompiledQuery.raw(text, values))).rows as unknown[] }) },
      })
    },
    wake() {
      for (const id of workers) boss.notifyWorker(id)
    },
  } satisfies JobQueue)

  app.addHook('onReady', async () => {
    await boss.start()
    started = true
    for (const name of Object.keys(options.handlers) as JobName[]) {
      await boss.createQueue(name)
      const handler = options.handlers[name] as (data: unknown) => Promise<void>
      workers.push(
        await boss.work<unknown>(name, { pollingIntervalSeconds: POLLING_INTERVAL_SECONDS }, async (jobs) => {
          for (const job of jobs) await handler(job.data)
        }),
      )
    }
  })
  app.addHook('onClose', async () => {
    // Jobs under way finish (or are retried later); the pool stays the caller's.
    if (started) await boss.stop({ graceful: true, close: false, wait: true, timeout: 10_000 })
  })
}

export const queuePlugin = fp(plugin, { name: 'queue' })
