import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import type PgBoss from 'pg-boss'

// Runs one queue's jobs, up to `slots` at once, in place of pg-boss 10's workers. Those run one
// job each (so concurrency cost one poller per job slot: 32 per instance polling a pool of 10),
// and record a job's end without awaiting it: a database blip at that moment was an unhandled
// rejection, which ends a Node process. Here one poller per queue fetches as many jobs as there
// are free slots, and stopping waits for the jobs it fetched instead of leaving them to run on a
// closed pool. A job's end that cannot be recorded (the database restarting, which is also what
// made most such jobs fail) is tried again, at growing intervals, until the database answers:
// left as it was, the job stayed active until its expiry (up to 90 minutes) before it ran again.
// Only a runner that stops gives up; the job then runs again once it expires, as after a crash.

export interface QueueRunner {
  /** Looks for jobs now rather than at the next poll. */
  wake(): void
  /** Fetches no more, and waits up to `timeoutMs` for the jobs under way. */
  stop(timeoutMs: number): Promise<void>
}

export interface RunnerOptions {
  name: string
  slots: number
  pollingIntervalMs: number
  handler: (data: unknown) => Promise<void>
  log: FastifyBaseLogger
  /** The first wait before trying again to record a job's end (250 ms); it doubles, up to `maxRecordRetryMs` (5 s). */
  recordRetryMs?: number
  maxRecordRetryMs?: number
}

export function runQueue(boss: PgBoss, options: RunnerOptions): QueueRunner {
  const { name, slots, handler, log } = options
  const running = new Set<Promise<void>>()
  let fetching: Promise<void> | undefined
  let wokenWhileFetching = false
  let stopping = false
  let timer: NodeJS.Timeout | undefined
  /** Ends the waits between tries to record a job's end when the runner stops. */
  const stopped = new AbortController()

  /** Records the job's end, trying again while the database does not answer, until the runner stops. */
  const record = async (job: PgBoss.Job<unknown>, failure: unknown): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      try {
        if (failure === undefined) await boss.complete(name, job.id)
        else await boss.fail(name, job.id, { message: String(failure) })
        if (attempt > 0) log.info({ queue: name, job: job.id, attempts: attempt + 1 }, 'the end of a job was recorded once the database answered')
        return
      } catch (error) {
        if (stopping) {
          log.error({ err: error, queue: name, job: job.id }, 'could not record the end of a job; it runs again once it expires')
          return
        }
        if (attempt === 0) log.warn({ err: error, queue: name, job: job.id }, 'could not record the end of a job; trying again until the database answers')
        const wait = Math.min((options.recordRetryMs ?? 250) * 2 ** attempt, options.maxRecordRetryMs ?? 5_000)
        await sleep(wait, undefined, { signal: stopped.signal }).catch(() => {})
      }
    }
  }

  const run = (job: PgBoss.Job<unknown>): void => {
    const done = (async () => {
      let failure: unknown
      try {
        await handler(job.data)
      } catch (error) {
        failure = error
      }
      await record(job, failure)
      if (failure !== undefined) log.warn({ err: failure, queue: name, job: job.id }, 'a job failed; it is retried later')
    })()
    running.add(done)
    void done.finally(() => {
      running.delete(done)
      look()
    })
  }

  const look = (): void => {
    if (stopping) return
    if (fetching !== undefined) {
      wokenWhileFetching = true
      return
    }
    const free = slots - running.size
    // A slot that frees up looks again.
    if (free <= 0) return
    clearTimeout(timer)
    wokenWhileFetching = false
    fetching = (async () => {
      let jobs: PgBoss.Job<unknown>[] = []
      try {
        jobs = await boss.fetch<unknown>(name, { batchSize: free })
      } catch (error) {
        log.error({ err: error, queue: name }, 'could not fetch jobs; trying again at the next poll')
      }
      // Fetched means started: they run even when stopping began meanwhile, and stop waits for them.
      for (const job of jobs) run(job)
      fetching = undefined
      if (stopping) return
      // Woken meanwhile: jobs sent since may have been missed. (After a full batch, the first
      // job to end looks again.)
      if (wokenWhileFetching) look()
      else timer = setTimeout(look, options.pollingIntervalMs).unref()
    })()
  }

  look()
  return {
    wake: look,
    async stop(timeoutMs) {
      stopping = true
      stopped.abort()
      clearTimeout(timer)
      let deadline: NodeJS.Timeout | undefined
      const waited = (async () => {
        await fetching
        await Promise.all(running)
      })()
      await Promise.race([waited, new Promise((resolve) => (deadline = setTimeout(resolve, timeoutMs).unref()))])
      clearTimeout(deadline)
    },
  }
}
