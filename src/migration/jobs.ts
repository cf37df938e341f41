import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import type { JobQueue } from '../plugins/queue.js'
import { ADD_PIECE_SIZE, addRepos, type AddReposJob } from './add-repos.js'
import { applyInstallationEvent, type InstallationEventJob } from './installation-events.js'

// The background jobs, by queue name, and what runs them.

export interface Jobs {
  'installation-event': InstallationEventJob
  'add-repos': AddReposJob
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
}

const minutes = (n: number): number => n * 60

export const queueSettings: { [N in JobName]: QueueSetting } = {
  // A few GitHub requests and one coverage check of an owner: minutes at most, and ninety leave
  // room for a lane parked until GitHub's rate limit resets (at most an hour) and the rest.
  'installation-event': { policy: 'standard', expireInSeconds: minutes(90) },
  // One piece of an add run: at most ADD_PIECE_SIZE writes at one a second (about two minutes),
  // plus up to an hour parked on a rate limit; the next piece is a job of its own.
  'add-repos': { policy: 'standard', expireInSeconds: minutes(90) },
}

export interface HandlerOptions {
  /** Repositories one piece of an add run adds at most (tests make it small). */
  addPieceSize?: number
}

/** `queue` is the one the handlers run on: a job that queues its next piece sends it there. */
export function jobHandlers(db: Kysely<Database>, github: GitHubClients, queue: () => JobQueue, options: HandlerOptions = {}): JobHandlers {
  const addOptions = {
    pieceSize: options.addPieceSize ?? ADD_PIECE_SIZE,
    // Shorter than the expiry: pg-boss starts a crashed piece again only after it, and the piece
    // must then find the batch free.
    leaseSeconds: queueSettings['add-repos'].expireInSeconds - minutes(10),
    enqueue: (trx: Parameters<JobQueue['send']>[0], job: AddReposJob) => queue().send(trx, 'add-repos', job),
    wake: () => queue().wake(),
  }
  return {
    'installation-event': (job) => applyInstallationEvent(db, github, job),
    'add-repos': (job) => addRepos(db, github, job, addOptions),
  }
}
