import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import type { JobQueue } from '../plugins/queue.js'
import { ADD_PIECE_SIZE, addRepos, type AddReposJob } from './add-repos.js'
import { COVERAGE_EXPIRY_SECONDS, runCoverageJob, type CoverageJob, type SendCoverage } from './coverage-job.js'
import { runCleanup, type SendCleanup } from './cleanup.js'
import { applyInstallationEvent, type InstallationEventJob } from './installation-events.js'
import { PLAN_EXPIRY_SECONDS, runPlanJob, type PlanJob } from './plan-job.js'

// The background jobs, by queue name, and what runs them.

export interface Jobs {
  'installation-event': InstallationEventJob
  'add-repos': AddReposJob
  coverage: CoverageJob
  plan: PlanJob
  cleanup: CleanupJob
}

/** Removing an owner's legacy hooks: one run at a time per owner (keyed by the owner id). */
export interface CleanupJob {
  ownerId: number
}

export type JobName = keyof Jobs

export type JobHandlers = { [N in JobName]: (data: Jobs[N]) => Promise<void> }

export interface QueueSetting {
  /**
   * standard: every job sent runs, several at once. stately: per singleton key at most one job
   * waits and one runs (sent with a key; see background-work.ts for how a second request is kept).
   */
  policy: 'standard' | 'stately'
  /**
   * pg-boss takes a job that runs longer than this for dead and starts it again, while the
   * first may still be running: every job must end well within it.
   */
  expireInSeconds: number
  /** Jobs of the queue one instance runs at once; 8 unless said. */
  slots?: number
}

const minutes = (n: number): number => n * 60

export const queueSettings: { [N in JobName]: QueueSetting } = {
  // A few GitHub requests and one coverage check of an owner: minutes at most, and ninety leave
  // room for a lane parked until GitHub's rate limit resets (at most an hour) and the rest.
  'installation-event': { policy: 'standard', expireInSeconds: minutes(90) },
  // One piece of an add run: at most ADD_PIECE_SIZE writes at one a second (about two minutes),
  // plus up to an hour parked on a rate limit; the next piece is a job of its own.
  'add-repos': { policy: 'standard', expireInSeconds: minutes(90) },
  // One run per owner at a time (keyed by the owner id); see coverage-job.ts for its length.
  coverage: { policy: 'stately', expireInSeconds: COVERAGE_EXPIRY_SECONDS },
  // One run per user at a time (keyed by the user id); see plan-job.ts for its length.
  plan: { policy: 'stately', expireInSeconds: PLAN_EXPIRY_SECONDS },
  // One run per owner at a time: every enabling user's hooks side by side, at most
  // CLEANUP_TASKS_PER_USER of each, whose deletes are a second apart (under four minutes), plus
  // up to an hour parked. A run spends nearly all its time waiting for its users' lanes, which
  // cap the requests in flight themselves: with only 8 owners at a time, a crowd of small owners
  // left the cap half used while the last of them ran.
  cleanup: { policy: 'stately', expireInSeconds: minutes(90), slots: 32 },
}

/** Hooks one cleanup run takes at most, and of one enabling user; the next run takes the rest. */
export const CLEANUP_TASKS_PER_RUN = 5_000
export const CLEANUP_TASKS_PER_USER = 200

/** What jobs need of the service that runs them: the queue (to send the next job) and its log. */
export interface JobContext {
  queue: () => JobQueue
  log: FastifyBaseLogger
  /** Repositories one piece of an add run adds at most (tests make it small). */
  addPieceSize?: number
  /** The legacy hooks' delivery URL (LEGACY_HOOK_URL): no other hook is ever deleted. */
  hookUrl: string
  /** Hooks one cleanup run takes at most (tests make it small). */
  cleanupTasksPerRun?: number
}

export function jobHandlers(db: Kysely<Database>, github: GitHubClients, context: JobContext): JobHandlers {
  const sendCoverage: SendCoverage = (trx, job, options) => context.queue().send(trx, 'coverage', job, options)
  const sendCleanup: SendCleanup = (trx, ownerId, afterSeconds) =>
    context.queue().send(trx, 'cleanup', { ownerId }, { singletonKey: String(ownerId), ...(afterSeconds === undefined ? {} : { startAfterSeconds: afterSeconds }) })
  const addOptions = {
    pieceSize: context.addPieceSize ?? ADD_PIECE_SIZE,
    // Shorter than the expiry: pg-boss starts a crashed piece again only after it, and the piece
    // must then find the batch free.
    leaseSeconds: queueSettings['add-repos'].expireInSeconds - minutes(10),
    enqueue: (trx: Parameters<JobQueue['send']>[0], job: AddReposJob) => context.queue().send(trx, 'add-repos', job),
    coverage: sendCoverage,
    wake: () => context.queue().wake(),
  }
  return {
    'installation-event': (job) => applyInstallationEvent(db, github, job, sendCoverage, addOptions.wake),
    'add-repos': (job) => addRepos(db, github, job, addOptions),
    coverage: (job) => runCoverageJob(db, github, { coverage: sendCoverage, cleanup: sendCleanup }, context.log, job),
    cleanup: (job) =>
      runCleanup(db, github, job.ownerId, {
        hookUrl: context.hookUrl,
        maxTasks: context.cleanupTasksPerRun ?? CLEANUP_TASKS_PER_RUN,
        perUser: CLEANUP_TASKS_PER_USER,
        // A run for later is not fetched before its time: waking is for one due now.
        again: async (ownerId, afterSeconds) => {
          await sendCleanup(db, ownerId, afterSeconds)
          addOptions.wake()
        },
      }),
    plan: (job) => runPlanJob(db, github, (trx, data, options) => context.queue().send(trx, 'plan', data, options), { send: sendCoverage, wake: addOptions.wake }, context.log, job),
  }
}
