import Fastify from 'fastify'
import pg from 'pg'
import t, { type Test } from 'tap'
import type { AddReposJob } from '../../src/migration/add-repos.js'
import type { InstallationEventJob } from '../../src/migration/installation-events.js'
import { queueSettings, type QueueSetting } from '../../src/migration/jobs.js'
import { queuePlugin, type QueueOptions } from '../../src/plugins/queue.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'

const job: AddReposJob = { batchId: 7, actor: { id: 1, login: 'mona' } }

async function queueApp(t: Test, pool: pg.Pool, done: AddReposJob[], options: Omit<QueueOptions, 'pool' | 'handlers'> = {}) {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => lines.push(line) } } })
  await app.register(queuePlugin, {
    pool,
    ...options,
    handlers: {
      'add-repos': async (data: AddReposJob) => {
        done.push(data)
      },
      'installation-event': async (_data: InstallationEventJob) => {},
      coverage: async () => {},
      plan: async () => {},
      cleanup: async () => {},
    },
  })
  t.teardown(() => app.close())
  return { app, lines }
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

t.test('a job sent in a transaction runs once it commits, and never when it rolls back', async (t) => {
  const tdb: TestDatabase = await testDatabase(t)
  const done: AddReposJob[] = []
  const { app } = await queueApp(t, tdb.pool, done)
  await app.ready()
  await tdb.db
    .transaction()
    .execute(async (trx) => {
      await app.queue.send(trx, 'add-repos', { ...job, batchId: 1 })
      throw new Error('the change failed')
    })
    .catch(() => {})
  await tdb.db.transaction().execute((trx) => app.queue.send(trx, 'add-repos', job))
  app.queue.wake()
  await until(() => done.length > 0)
  t.same(done, [job])
  // A queue pg-boss does not know would drop the job silently: the send fails instead.
  await t.rejects(
    tdb.db.transaction().execute((trx) => app.queue.send(trx, 'no-such-queue' as 'add-repos', job)),
    /the job queue "no-such-queue" is not ready/,
  )
})

t.test('a database down at start does not keep the service from starting; the queue starts when it is back', async (t) => {
  const tdb = await testDatabase(t)
  let down = true
  // The pool answers as a database that is unreachable, until it is reachable again.
  const flaky = new Proxy(tdb.pool, {
    get(target, property, receiver) {
      if (property === 'query' && down) return () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'))
      const value = Reflect.get(target, property, receiver) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  const done: AddReposJob[] = []
  const { app, lines } = await queueApp(t, flaky, done, { timing: { restartDelayMs: 20, sendWaitMs: 50 } })
  await app.ready()
  t.match(lines.join(''), 'job queue could not start; trying again shortly')
  // Sent before the queue has started: refused, so the change that sent it rolls back.
  await t.rejects(tdb.db.transaction().execute((trx) => app.queue.send(trx, 'add-repos', job)))
  down = false
  // Sends are refused until the queue has started again.
  for (let tries = 0; ; tries++) {
    try {
      await tdb.db.transaction().execute((trx) => app.queue.send(trx, 'add-repos', job))
      break
    } catch (error) {
      if (tries > 300) throw error
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
  app.queue.wake()
  await until(() => done.length > 0)
  t.same(done, [job])
})

t.test('closing before the queue ever started stops the retries', async (t) => {
  const pool = new pg.Pool({ connectionString: 'postgres://postgres:x@127.0.0.1:1/none', connectionTimeoutMillis: 500 })
  t.teardown(() => pool.end())
  const { app, lines } = await queueApp(t, pool, [], { timing: { restartDelayMs: 10 } })
  await app.ready()
  await app.close()
  const logged = lines.length
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(lines.length, logged, 'no further attempts after close')
  t.match(lines.join(''), 'job queue could not start')
})

t.test('a database too slow to answer: the service is ready anyway, and a queue that starts after close is stopped', async (t) => {
  const tdb = await testDatabase(t)
  let slow = true
  const sluggish = new Proxy(tdb.pool, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown
      if (property === 'query' && slow) {
        return async (...args: unknown[]) => {
          await new Promise((resolve) => setTimeout(resolve, 300))
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      }
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  let queries = 0
  const counted = new Proxy(sluggish, {
    get(target, property, receiver) {
      if (property === 'query') queries += 1
      return Reflect.get(target, property, receiver) as unknown
    },
  })
  const { app } = await queueApp(t, counted, [], { timing: { readyWaitMs: 20 } })
  const started = Date.now()
  await app.ready()
  t.ok(Date.now() - started < 250, 'ready before the queue')
  await app.close()
  slow = false
  // The start under way finishes and stops its queue: no worker polls a database nobody serves.
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  const after = queries
  // Longer than a worker's polling interval (2 s): a worker left running would have asked.
  await new Promise((resolve) => setTimeout(resolve, 2_500))
  t.equal(queries, after, 'nothing polls after close')
})

async function queueRows(pool: pg.Pool): Promise<Record<string, { policy: string; expire_seconds: number }>> {
  const { rows } = await pool.query<{ name: string; policy: string; expire_seconds: number }>('select name, policy, expire_seconds from pgboss.queue')
  return Object.fromEntries(rows.map((r) => [r.name, { policy: r.policy, expire_seconds: r.expire_seconds }]))
}

t.test("each queue is created with its policy and expiry, and one created by an earlier version is brought up to date", async (t) => {
  const tdb = await testDatabase(t)
  const before: QueueSetting = { policy: 'standard', expireInSeconds: 900 }
  const { app: old } = await queueApp(t, tdb.pool, [], { settings: { 'add-repos': before, 'installation-event': before, plan: before, coverage: before, cleanup: before } })
  await old.ready()
  t.same((await queueRows(tdb.pool))['plan'], { policy: 'standard', expire_seconds: 900 })
  await old.close()
  const { app } = await queueApp(t, tdb.pool, [])
  await app.ready()
  const rows = await queueRows(tdb.pool)
  for (const [name, setting] of Object.entries(queueSettings)) {
    t.same(rows[name], { policy: setting.policy, expire_seconds: setting.expireInSeconds }, name)
    // pg-boss would start a job again after 15 minutes while the first may still run.
    t.ok(setting.expireInSeconds > 15 * 60, `${name} outlasts pg-boss's default expiry`)
  }
})

t.test('a stately queue keeps one job waiting per key: a second send is no error, and says it queued nothing', async (t) => {
  const tdb = await testDatabase(t)
  const done: AddReposJob[] = []
  const stately = { ...queueSettings, 'add-repos': { policy: 'stately' as const, expireInSeconds: 60 } }
  const { app } = await queueApp(t, tdb.pool, done, { settings: stately })
  await app.ready()
  // In one transaction, so no worker takes the first before the second is sent.
  const sent = await tdb.db.transaction().execute(async (trx) => [
    await app.queue.send(trx, 'add-repos', { ...job, batchId: 1 }, { singletonKey: '1' }),
    await app.queue.send(trx, 'add-repos', { ...job, batchId: 2 }, { singletonKey: '1' }),
    await app.queue.send(trx, 'add-repos', { ...job, batchId: 3 }, { singletonKey: '2' }),
  ])
  t.same(sent, [true, false, true])
  app.queue.wake()
  await until(() => done.length === 2)
  t.same(done.map((d) => d.batchId).sort(), [1, 3], 'the refused one never runs')
  // A queue never created drops a keyed job too: that is still an error.
  await t.rejects(
    tdb.db.transaction().execute((trx) => app.queue.send(trx, 'no-such-queue' as 'add-repos', job, { singletonKey: '1' })),
    /the job queue "no-such-queue" is not ready/,
  )
})

t.test('a job sent to start later waits that long', async (t) => {
  const tdb = await testDatabase(t)
  const done: AddReposJob[] = []
  const { app } = await queueApp(t, tdb.pool, done)
  await app.ready()
  const sentAt = Date.now()
  await tdb.db.transaction().execute((trx) => app.queue.send(trx, 'add-repos', job, { startAfterSeconds: 1 }))
  app.queue.wake()
  await until(() => done.length > 0)
  t.ok(Date.now() - sentAt >= 1_000, 'not before a second')
})

t.test("several jobs of a queue run at once, as many as the instance's workers", async (t) => {
  const tdb = await testDatabase(t)
  const running = async (workers: { workersPerQueue: number } | { settings: typeof queueSettings }): Promise<number> => {
    let now = 0
    let most = 0
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const app = Fastify({ logger: false })
    await app.register(queuePlugin, {
      pool: tdb.pool,
      ...workers,
      handlers: {
        'add-repos': async () => {
          most = Math.max(most, ++now)
          await held
          now--
        },
        'installation-event': async () => {},
        coverage: async () => {},
        plan: async () => {},
        cleanup: async () => {},
      },
    })
    await app.ready()
    await tdb.db.transaction().execute(async (trx) => {
      for (let batchId = 1; batchId <= 4; batchId++) await app.queue.send(trx, 'add-repos', { ...job, batchId })
    })
    app.queue.wake()
    // Long enough for every idle worker to fetch a job once woken.
    await new Promise((resolve) => setTimeout(resolve, 500))
    release()
    await until(() => now === 0)
    await app.close()
    await tdb.pool.query(`delete from pgboss.job where name = 'add-repos'`)
    return most
  }
  t.equal(await running({ workersPerQueue: 1 }), 1, 'one worker: one job at a time')
  t.equal(await running({ workersPerQueue: 3 }), 3, 'three workers: three jobs of four at once')
  const twoAtOnce = { ...queueSettings, 'add-repos': { ...queueSettings['add-repos'], slots: 2 } }
  t.equal(await running({ settings: twoAtOnce }), 2, "the queue's own number: two jobs of four at once")
})

t.test("the queue's upkeep archives finished jobs after 12 hours and deletes them after 7 days more", async (t) => {
  const tdb = await testDatabase(t)
  const done: AddReposJob[] = []
  const { app } = await queueApp(t, tdb.pool, done, { maintenanceIntervalSeconds: 1 })
  await app.ready()
  await tdb.db.transaction().execute(async (trx) => {
    await app.queue.send(trx, 'add-repos', { ...job, batchId: 1 })
    await app.queue.send(trx, 'add-repos', { ...job, batchId: 2 })
  })
  app.queue.wake()
  await until(() => done.length === 2)
  const finishedIn = (table: 'job' | 'archive') => async (batchId: number) =>
    (await tdb.pool.query(`select 1 from pgboss.${table} where name = 'add-repos' and (data->>'batchId')::int = $1 and state = 'completed'`, [batchId])).rowCount === 1
  const inJobs = finishedIn('job')
  const inArchive = finishedIn('archive')
  // Job 1 finished 13 hours ago, job 2 just now.
  await tdb.pool.query(`update pgboss.job set completed_on = now() - interval '13 hours' where (data->>'batchId')::int = 1`)
  await until(() => inArchive(1))
  t.notOk(await inJobs(1), 'a job finished 13 hours ago leaves the job table for the archive')
  t.ok(await inJobs(2), 'a job finished just now stays where support can see it')
  const { rows } = await tdb.pool.query<{ maintained: boolean }>(`select maintained_on is not null as maintained from pgboss.version`)
  t.same(rows, [{ maintained: true }], 'the upkeep records when it ran, so only one instance runs it at a time')
  await tdb.pool.query(`update pgboss.archive set archived_on = now() - interval '8 days' where (data->>'batchId')::int = 1`)
  await until(async () => !(await inArchive(1)))
  t.ok(await inJobs(2), 'after 7 days in the archive a job is deleted; the recent one is untouched')
})
