import pino from 'pino'
import PgBoss from 'pg-boss'
import type pg from 'pg'
import t, { type Test } from 'tap'
import { runQueue } from '../../src/plugins/queue-runner.js'
import { testDatabase } from '../helpers/database.js'

const QUEUE = 'work'

/** pg-boss on `pool` with one queue, and a log that keeps its lines. */
async function started(t: Test, pool: Pick<pg.Pool, 'query'>) {
  const boss = new PgBoss({ db: { executeSql: (text, values) => pool.query(text, values) }, schema: 'pgboss', schedule: false, supervise: false })
  await boss.start()
  await boss.createQueue(QUEUE)
  t.teardown(() => boss.stop({ graceful: false, close: false, wait: true }))
  const lines: string[] = []
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) })
  return { boss, log, lines }
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function stateOf(pool: pg.Pool, id: string): Promise<string> {
  const { rows } = await pool.query<{ state: string }>('select state from pgboss.job where id = $1', [id])
  return rows[0]!.state
}

/** A pool that refuses the statement that marks a job completed, as a database restarting would, while `down()`. */
function blipping(pool: pg.Pool, down: () => boolean) {
  let ends = 0
  const query = (text: string, values?: unknown[]) => {
    if (text.includes("state = 'completed'")) {
      ends += 1
      if (down()) return Promise.reject(new Error('Connection terminated unexpectedly'))
    }
    return pool.query(text, values)
  }
  return { pool: { query } as unknown as pg.Pool, ends: () => ends }
}

t.test('a job whose end cannot be recorded is recorded once the database answers again, at growing intervals, and runs once', async (t) => {
  const tdb = await testDatabase(t)
  let refusals = 3
  const blip = blipping(tdb.pool, () => refusals-- > 0)
  const { boss, log, lines } = await started(t, blip.pool)
  const id = (await boss.send(QUEUE, { n: 1 }))!
  let ran = 0
  const from = Date.now()
  const runner = runQueue(boss, { name: QUEUE, slots: 2, pollingIntervalMs: 20, handler: async () => void (ran += 1), log, maxRecordRetryMs: 40 })
  t.teardown(() => runner.stop(1_000))
  await until(async () => (await stateOf(tdb.pool, id)) === 'completed')
  t.equal(blip.ends(), 4, 'three refused, the fourth recorded')
  t.ok(Date.now() - from >= 3 * 40, 'after three waits of 40 ms, the longest (the first, 250 ms, is longer)')
  t.equal(ran, 1, 'the job itself ran once')
  t.match(lines.join(''), 'could not record the end of a job; trying again until the database answers')
  t.equal(lines.join('').split('trying again until the database answers').length, 2, 'said once, not at every try')
})

t.test('a runner that stops while the end cannot be recorded gives up at once: the job runs again after its expiry', async (t) => {
  const tdb = await testDatabase(t)
  const blip = blipping(tdb.pool, () => true)
  const { boss, log, lines } = await started(t, blip.pool)
  const id = (await boss.send(QUEUE, { n: 1 }))!
  let ran = 0
  // Waits far longer than the test (at most 5 s): only stopping ends them.
  const runner = runQueue(boss, { name: QUEUE, slots: 2, pollingIntervalMs: 20, handler: async () => void (ran += 1), log, recordRetryMs: 60_000 })
  await until(() => blip.ends() === 1)
  const before = Date.now()
  await runner.stop(5_000)
  t.ok(Date.now() - before < 1_000, 'the wait ended with the stop')
  t.equal(blip.ends(), 2, 'one last try')
  t.equal(ran, 1)
  t.equal(await stateOf(tdb.pool, id), 'active')
  t.match(lines.join(''), 'could not record the end of a job; it runs again once it expires')
})

t.test('a job that throws is recorded as failed and retried later, with a warning', async (t) => {
  const tdb = await testDatabase(t)
  const { boss, log, lines } = await started(t, tdb.pool)
  const id = (await boss.send(QUEUE, { n: 1 }, { retryLimit: 1, retryDelay: 60 }))!
  const runner = runQueue(boss, {
    name: QUEUE,
    slots: 1,
    pollingIntervalMs: 20,
    handler: async () => {
      throw new Error('GitHub said 502')
    },
    log,
  })
  await until(async () => (await stateOf(tdb.pool, id)) === 'retry')
  await runner.stop(1_000)
  t.match(lines.join(''), /GitHub said 502.*a job failed; it is retried later/)
})

t.test('closing waits for the jobs under way and records their end; it fetches nothing more', async (t) => {
  const tdb = await testDatabase(t)
  const { boss, log } = await started(t, tdb.pool)
  const first = (await boss.send(QUEUE, { n: 1 }))!
  let release!: () => void
  const held = new Promise<void>((resolve) => (release = resolve))
  let ran = 0
  const runner = runQueue(boss, {
    name: QUEUE,
    slots: 1,
    pollingIntervalMs: 20,
    handler: async () => {
      ran += 1
      await held
    },
    log,
  })
  await until(() => ran === 1)
  const second = (await boss.send(QUEUE, { n: 2 }))!
  runner.wake()
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(ran, 1, 'its one slot taken, the runner leaves the second job waiting')
  let closed = false
  const closing = runner.stop(5_000).then(() => (closed = true))
  runner.wake()
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.notOk(closed, 'still waiting for the job under way')
  release()
  await closing
  t.equal(await stateOf(tdb.pool, first), 'completed')
  t.equal(await stateOf(tdb.pool, second), 'created', 'the job sent meanwhile waits for another instance or the next start')
  t.equal(ran, 1, 'closing started nothing new')
})

t.test('closing waits no longer than its timeout for a job that does not end', async (t) => {
  const tdb = await testDatabase(t)
  const { boss, log } = await started(t, tdb.pool)
  await boss.send(QUEUE, { n: 1 })
  let ran = 0
  const runner = runQueue(boss, { name: QUEUE, slots: 1, pollingIntervalMs: 20, handler: () => ((ran += 1), new Promise<void>(() => {})), log })
  await until(() => ran === 1)
  const before = Date.now()
  await runner.stop(50)
  t.ok(Date.now() - before < 1_000)
})

t.test('a fetch that fails is logged and tried again at the next poll', async (t) => {
  const tdb = await testDatabase(t)
  const { boss, log, lines } = await started(t, tdb.pool)
  let refused = 0
  const flaky = new Proxy(boss, {
    get(target, property, receiver) {
      if (property === 'fetch' && refused === 0) {
        refused += 1
        return () => Promise.reject(new Error('fetch failed'))
      }
      const value = Reflect.get(target, property, receiver) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  await boss.send(QUEUE, { n: 1 })
  let ran = 0
  const runner = runQueue(flaky, { name: QUEUE, slots: 1, pollingIntervalMs: 20, handler: async () => void (ran += 1), log })
  await until(() => ran === 1)
  await runner.stop(1_000)
  t.equal(refused, 1)
  t.match(lines.join(''), 'could not fetch jobs; trying again at the next poll')
})

t.test('a wake while a fetch is under way looks again at once, not at the next poll', async (t) => {
  const tdb = await testDatabase(t)
  const { boss, log } = await started(t, tdb.pool)
  let open!: () => void
  const gate = new Promise<void>((resolve) => (open = resolve))
  let fetches = 0
  // The first fetch has asked (and found nothing) but not yet answered when the job is sent.
  const slow = new Proxy(boss, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown
      if (property === 'fetch') {
        return async (...args: Parameters<PgBoss['fetch']>) => {
          fetches += 1
          const jobs = await target.fetch(...args)
          if (fetches === 1) await gate
          return jobs
        }
      }
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  let ran = 0
  // A poll far away: only the wake can find the job.
  const runner = runQueue(slow, { name: QUEUE, slots: 2, pollingIntervalMs: 600_000, handler: async () => void (ran += 1), log })
  await until(() => fetches === 1)
  await boss.send(QUEUE, { n: 1 })
  runner.wake()
  open()
  await until(() => ran === 1)
  await runner.stop(1_000)
  t.equal(ran, 1, 'found by the wake')
})
