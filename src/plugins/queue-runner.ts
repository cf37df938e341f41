import type { FastifyBaseLogger } from 'fastify'
import type PgBoss from 'pg-boss'

// Runs one queue's jobs, up to `slots` at once, in place of pg-boss 10's workers. Those run one
// job each (so concurrency cost one poller per job slot: 32 per instance polling a pool of 10),
// and record a job's end without awaiting it: a database blip at that moment was an unhandled
// rejection, which ends a Node process. Here one poller per queue fetches as many jobs as there
// are free slots, every end is awaited and its failure logged (the job is then started again
// once it expires, and jobs are written to be run again), and stopping waits for the jobs it
// fetched instead of leaving them to run on a closed pool.

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
}

export function runQueue(boss: PgBoss, options: RunnerOptions): QueueRunner {
  const { name, slots, handler, log } = options
  const running = new Set<Promise<void>>()
  let fetching: Promise<void> | undefined
  let wokenWhileFetching = false
  let stopping = false
  let timer: NodeJS.Timeout | undefined

  const run = (job: PgBoss.Job<unknown>): void => {
    const done = (async () => {
      let failure: unknown
      try {
        await handler(job.data)
      } catch (error) {
        failure = error
      }
      try {
        if (failure === undefined) await boss.complete(name, job.id)
        else await boss.fail(name, job.id, { message: String(failure) })
      } catch (error) {
        log.error({ err: error, queue: name, job: job.id }, 'could not record the end of a job; it runs again once it expires')
      }
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
