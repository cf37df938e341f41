import type { FastifyBaseLogger } from 'fastify'
import type { Kysely, Transaction } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import type { AuditActor } from './audit.js'
import { endWork, progressOf, requestWork, startWork, type WorkEnd } from './background-work.js'
import type { SendCleanup } from './cleanup.js'
import { checkCoverageNow } from './coverage.js'

// Checking an owner's coverage as a background job: every page of the installation's
// repositories, and a lookup per repository the listing misses, with the page showing how far
// it has come. One run per owner at a time, whoever asked (a user's "Check again", the end of
// an install or of an add run, a webhook); a request while it runs is followed by one more run,
// so a change made meanwhile is not missed.

export interface CoverageJob {
  ownerId: number
  /** Who asked, for the audit log. */
  actor: AuditActor
  requestId?: string | undefined
}

/**
 * Eleven pages for 1,100 repositories and a lookup per repository the listing misses take
 * minutes at most; ninety leave room for a lane parked until GitHub's rate limit resets (at
 * most an hour).
 */
export const COVERAGE_EXPIRY_SECONDS = 90 * 60

/** Sends a coverage job in the transaction given, keyed by the owner, as the queue's stately policy wants it. */
export type SendCoverage = (trx: Transaction<Database>, job: CoverageJob, options: { singletonKey: string; startAfterSeconds?: number }) => Promise<unknown>

const keyed = (job: CoverageJob) => ({ singletonKey: String(job.ownerId) })

/** Asks for a check of the owner's coverage in the caller's transaction: true when a job was sent (wake the queue after commit). */
export async function requestCoverage(trx: Transaction<Database>, send: SendCoverage, job: CoverageJob): Promise<boolean> {
  return requestWork(trx, {
    kind: 'coverage',
    subjectId: job.ownerId,
    staleAfterSeconds: 2 * COVERAGE_EXPIRY_SECONDS,
    send: (options) => send(trx, job, { ...keyed(job), ...options }),
  })
}

const STOPPED = 'The coverage check stopped before it was done: this service failed on the way. Check again in a moment; if it keeps happening, contact support.'

/** The job: checks, records how it ended, and sends the next run when one was asked for meanwhile. */
/** What a coverage check sends: its own next run, and the cleanup of hooks it finds covered. */
export interface CoverageSends {
  coverage: SendCoverage
  cleanup: SendCleanup
}

export async function runCoverageJob(db: Kysely<Database>, github: GitHubClients, sends: CoverageSends, log: FastifyBaseLogger, job: CoverageJob): Promise<void> {
  const send = sends.coverage
  const run = await startWork(db, 'coverage', job.ownerId)
  const context = { actor: job.actor, ...(job.requestId === undefined ? {} : { requestId: job.requestId }) }
  // GitHub failing is written on the owner's batches by the check itself ("check again"); what
  // reaches here is a fault of this service.
  const end: WorkEnd = await checkCoverageNow(db, github, job.ownerId, { ...context, cleanup: sends.cleanup }, progressOf(db, run)).then(
    () => ({ state: 'done', outcome: 'checked' }),
    (error: unknown) => {
      // The person is told what to do; the cause is for the logs, never the page.
      log.error({ err: error, ownerId: job.ownerId, requestId: job.requestId }, 'coverage check failed')
      return { state: 'failed', message: STOPPED }
    },
  )
  await db.transaction().execute((trx) => endWork(trx, run, end, (options) => send(trx, job, { ...keyed(job), ...options })))
}
