import type { FastifyBaseLogger } from 'fastify'
import type { Kysely, Transaction } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { endWork, progressOf, requestWork, startWork, type WorkEnd } from './background-work.js'
import type { Viewer } from './batches.js'
import { legacyTokenOf } from './legacy-token.js'
import { planMigration, type CoverageRequests } from './plan.js'
import { whenRevoked } from './repo-refresh.js'

// Planning a user's migration as a background job: every page of their repositories, a lookup
// per repository the list missed, and per owner a role and an installation, with the page
// showing how far it has come; an installed owner's coverage check is a job of its own. One
// run per user at a time; a request while it runs (a second tab, "Look again") is followed by
// one more run.

export interface PlanJob {
  userId: number
  login: string
  requestId?: string
}

/**
 * planned: a plan is stored. nothing: no legacy registrations to migrate. revoked: GitHub (or
 * the legacy records) no longer take the user's legacy token.
 */
export type PlanOutcome = 'planned' | 'nothing' | 'revoked'

/**
 * Two thousand repositories are 20 pages and 40 owners a few requests each: minutes, one request
 * at a time per token. Two hours leave room for thousands of lookups of repositories the list
 * missed and a lane parked until GitHub's rate limit resets (at most an hour).
 */
export const PLAN_EXPIRY_SECONDS = 2 * 3600

/** Sends a planning job in the transaction given, as the queue's stately policy wants it. */
export type SendPlan = (trx: Transaction<Database>, job: PlanJob, options: { singletonKey: string; startAfterSeconds?: number }) => Promise<unknown>

/** Asks for planning in the caller's transaction: true when a job was sent (wake the queue after commit). */
export async function requestPlanning(trx: Transaction<Database>, send: SendPlan, viewer: Viewer, requestId: string): Promise<boolean> {
  const job: PlanJob = { userId: viewer.id, login: viewer.login, requestId }
  return requestWork(trx, {
    kind: 'plan',
    subjectId: viewer.id,
    staleAfterSeconds: 2 * PLAN_EXPIRY_SECONDS,
    send: (options) => send(trx, job, { singletonKey: String(viewer.id), ...options }),
  })
}

const STOPPED = 'Planning stopped before it was done: GitHub or this service failed on the way. Look again in a moment; if it keeps happening, contact support.'

/** The job: plans with the user's legacy token, read for this run only, and records how it ended. */
export async function runPlanJob(db: Kysely<Database>, github: GitHubClients, send: SendPlan, coverage: CoverageRequests, log: FastifyBaseLogger, job: PlanJob): Promise<void> {
  const viewer: Viewer = { id: job.userId, login: job.login }
  const run = await startWork(db, 'plan', viewer.id)
  const plan = async (): Promise<PlanOutcome> => {
    const token = await legacyTokenOf(db, viewer.id)
    if (token === undefined) return 'nothing'
    if (token === null) return 'revoked'
    return planMigration(db, github, coverage, viewer, token, job.requestId, progressOf(db, run)).then(
      () => 'planned' as const,
      whenRevoked(() => 'revoked' as const),
    )
  }
  const end: WorkEnd = await plan().then(
    (outcome) => ({ state: 'done', outcome }),
    (error: unknown) => {
      // The person is told what to do; the cause is for the logs, never the page.
      log.error({ err: error, userId: viewer.id, requestId: job.requestId }, 'planning failed')
      return { state: 'failed', message: STOPPED }
    },
  )
  await db.transaction().execute((trx) => endWork(trx, run, end, (options) => send(trx, job, { singletonKey: String(viewer.id), ...options })))
}
