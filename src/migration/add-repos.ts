import { sql, type Kysely, type Transaction } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { explainFault, tokenFault } from '../github/token-fault.js'
import { addingEnded, addingStarted } from './batch-state.js'
import { appendAudit, type AuditActor } from './audit.js'
import { requestCoverage, type SendCoverage } from './coverage-job.js'
import { legacyTokenOf } from './legacy-token.js'
import { loadBatch } from './plan-store.js'

// Adding repositories to an existing installation with the user's legacy OAuth token
// (PUT /user/installations/{id}/repositories/{repo_id}), one at a time, each recorded as it
// lands so progress can be shown and a retried job does only what is left; in pieces of a
// hundred or so, one job each, so that every job ends well within its expiry. GitHub documents
// the endpoint for classic personal access tokens; when it refuses the OAuth App's token the
// batch falls back to the installation's settings page, where the user ticks the repositories.

export interface AddReposJob {
  batchId: number
  actor: { id: number; login: string }
  requestId?: string
}

export interface Enqueue {
  (trx: Transaction<Database>, job: AddReposJob): Promise<unknown>
}

/**
 * Marks the repositories to add and queues the work, within the caller's transaction (the one
 * that records the installation, or the user's click); false when the batch is already adding
 * (a second tab, a double click) or has no installation. Asking for the API path again after
 * GitHub refused it (the legacy token may work again) is the `retryApi` of a click.
 */
export async function startAdding(trx: Transaction<Database>, enqueue: Enqueue, batchId: number, repoIds: number[], job: AddReposJob): Promise<boolean> {
  if (repoIds.length === 0) return false
  const batch = await addingStarted(trx, batchId)
  if (batch === undefined) return false
  // A new run: what earlier runs added or failed to add is in the audit log; the page counts this one.
  await trx.updateTable('app.batch_repo').set({ add_state: null, add_reason: null }).where('batch_id', '=', batchId).where('add_state', 'is not', null).execute()
  await trx.updateTable('app.batch_repo').set({ add_state: 'pending' }).where('batch_id', '=', batchId).where('repo_id', 'in', repoIds).execute()
  await appendAudit(trx, {
    actor: { kind: 'user', githubId: job.actor.id, login: job.actor.login },
    action: 'repos_add_started',
    target: { ownerId: batch.owner_id, ownerLogin: batch.owner_login, installationId: batch.installation_id! },
    outcome: 'ok',
    requestId: job.requestId,
    detail: { repos: repoIds.length },
  })
  await enqueue(trx, job)
  return true
}

type Attempt = { kind: 'added' } | { kind: 'failed'; reason: string } | Stop
/**
 * The run ends early. refused: GitHub does not take the legacy token here, the user ticks the
 * rest on the settings page. stopped: GitHub cannot take it now (rate limit, an outage): the
 * rest is marked with the reason and offered again, rather than the batch staying "adding"
 * through retries that cannot succeed sooner.
 */
type Stop = { kind: 'refused'; reason: string } | { kind: 'stopped'; reason: string }

function judge(error: unknown): Attempt {
  const fault = tokenFault(error)
  const { message } = error as { message: string }
  switch (fault.kind) {
    case 'revoked':
      return { kind: 'refused', reason: explainFault(fault, 'adding repositories') }
    case 'unavailable':
      if (/rate limit/i.test(message)) return { kind: 'stopped', reason: "GitHub's rate limit for your account was reached: try again in a while." }
      // octokit gives every failure a status, a network error included (500).
      return { kind: 'stopped', reason: `GitHub did not answer (${fault.status}): try again in a moment.` }
    case 'forbidden':
      if (/admin/i.test(fault.message)) return { kind: 'failed', reason: 'You need admin rights on this repository to add it.' }
      return { kind: 'refused', reason: explainFault(fault, 'adding repositories') }
    case 'not_found':
      // The installation out of this token's reach (or the endpoint closed to OAuth App
      // tokens): the settings page on GitHub, where the user is signed in, still works.
      return { kind: 'refused', reason: "GitHub does not let the old app's authorization add repositories to this installation." }
    default:
      return { kind: 'refused', reason: explainFault(fault, 'adding repositories') }
  }
}

export interface AddOptions {
  /** Repositories one piece adds at most. */
  pieceSize: number
  /**
   * How long a piece holds its batch past the last repository it recorded: well beyond one
   * write (a lane may park for up to an hour on a rate limit) and shorter than the queue's
   * expiry, so that a piece pg-boss starts again after a crash finds the batch free.
   */
  leaseSeconds: number
  /** Queues the next piece, in the transaction that ends this one. */
  enqueue: Enqueue
  /** Asks for the owner's coverage check, in the transaction that ends the run. */
  coverage: SendCoverage
  /** Wakes the workers once that transaction has committed. */
  wake(): void
}

/** At one write a second, 100 repositories take about two minutes: a piece well within its expiry. */
export const ADD_PIECE_SIZE = 100

/** The batch was taken over by a later piece (this one outlived its lease): it writes nothing more. */
class BatchTakenOver extends Error {
  override name = 'BatchTakenOver'
}

const leaseEnd = (seconds: number) => sql<Date>`now() + make_interval(secs => ${seconds})`

/** The piece number when this piece takes the batch; undefined when another piece holds it or the run has ended. */
async function takeBatch(db: Kysely<Database>, batchId: number, leaseSeconds: number): Promise<number | undefined> {
  const taken = await db
    .updateTable('app.batch')
    .set({ add_piece: sql<number>`add_piece + 1`, add_lease_until: leaseEnd(leaseSeconds) })
    .where('id', '=', batchId)
    .where('state', '=', 'adding')
    .where((eb) => eb.or([eb('add_lease_until', 'is', null), eb('add_lease_until', '<', sql<Date>`now()`)]))
    .returning('add_piece')
    .executeTakeFirst()
  return taken?.add_piece
}

/** Within a transaction that records progress: the batch is still this piece's, held for another lease. */
async function holdBatch(trx: Transaction<Database>, batchId: number, piece: number, leaseSeconds: number | null): Promise<void> {
  const held = await trx
    .updateTable('app.batch')
    .set({ add_lease_until: leaseSeconds === null ? null : leaseEnd(leaseSeconds) })
    .where('id', '=', batchId)
    .where('add_piece', '=', piece)
    .returning('id')
    .executeTakeFirst()
  if (held === undefined) throw new BatchTakenOver()
}

/**
 * One piece of an add run: takes the batch (or ends at once when another piece holds it: no two
 * pieces of a batch ever add at once), adds at most `pieceSize` of the repositories still
 * pending, each recorded as it lands, then either queues the next piece in the transaction that
 * lets the batch go, or ends the run. A piece started again after a crash does only what is
 * left: what was added is recorded, and GitHub takes a repository added twice without a change.
 */
export async function addRepos(db: Kysely<Database>, github: GitHubClients, job: AddReposJob, options: AddOptions): Promise<void> {
  const piece = await takeBatch(db, job.batchId, options.leaseSeconds)
  if (piece === undefined) return
  try {
    await addPiece(db, github, job, piece, options)
  } catch (error) {
    if (error instanceof BatchTakenOver) return
    // Let go at once, so that pg-boss's retry of this piece finds the batch free.
    await db.updateTable('app.batch').set({ add_lease_until: null }).where('id', '=', job.batchId).where('add_piece', '=', piece).execute()
    throw error
  }
}

async function addPiece(db: Kysely<Database>, github: GitHubClients, job: AddReposJob, piece: number, options: AddOptions): Promise<void> {
  const batch = (await loadBatch(db, job.batchId))!
  const installationId = batch.installation_id!
  const actor: AuditActor = { kind: 'user', githubId: job.actor.id, login: job.actor.login }
  const target = { ownerId: batch.owner_id, ownerLogin: batch.owner_login, installationId }
  const token = (await legacyTokenOf(db, batch.user_id)) ?? null
  let stop: Stop | undefined = token === null ? { kind: 'refused', reason: "The old app's authorization was revoked." } : undefined
  const pending = batch.repos.filter((r) => r.add_state === 'pending')
  for (const repo of pending.slice(0, options.pieceSize)) {
    if (stop !== undefined) break
    let attempt: Attempt
    try {
      await github.asUser(token!).request('PUT /user/installations/{installation_id}/repositories/{repository_id}', { installation_id: installationId, repository_id: repo.repo_id })
      attempt = { kind: 'added' }
    } catch (error) {
      attempt = judge(error)
    }
    if (attempt.kind === 'refused' || attempt.kind === 'stopped') {
      stop = attempt
      break
    }
    const done = attempt
    await db.transaction().execute(async (trx) => {
      // The batch first, then its rows: the order planning and coverage checks lock them in.
      await holdBatch(trx, batch.id, piece, options.leaseSeconds)
      await trx
        .updateTable('app.batch_repo')
        .set({ add_state: done.kind, add_reason: done.kind === 'failed' ? done.reason : null })
        .where('batch_id', '=', batch.id)
        .where('repo_id', '=', repo.repo_id)
        .execute()
      await appendAudit(trx, {
        actor,
        action: 'repo_added',
        target: { ...target, repoId: repo.repo_id, repoName: repo.repo_name },
        outcome: done.kind === 'added' ? 'ok' : 'failed',
        ...(done.kind === 'failed' ? { reason: done.reason } : {}),
        requestId: job.requestId,
        detail: { path: 'api' },
      })
    })
  }
  if (stop === undefined && pending.length > options.pieceSize) {
    await db.transaction().execute(async (trx) => {
      await holdBatch(trx, batch.id, piece, null)
      await options.enqueue(trx, job)
    })
    options.wake()
    return
  }
  await db.transaction().execute(async (trx) => {
    const path = stop?.kind === 'refused' ? 'settings_page' : 'api'
    await holdBatch(trx, batch.id, piece, null)
    await addingEnded(trx, batch.id, stop?.kind === 'refused' ? stop.reason : null)
    if (stop !== undefined) {
      // Refused: what is left is the user's to tick on GitHub's settings page. Stopped: what is
      // left says why, and "Add" offers it again.
      const left = stop.kind === 'refused' ? { add_state: null, add_reason: null } : { add_state: 'failed' as const, add_reason: stop.reason }
      await trx.updateTable('app.batch_repo').set(left).where('batch_id', '=', batch.id).where('add_state', '=', 'pending').execute()
    }
    // This run's, across its pieces: startAdding cleared what earlier runs recorded.
    const { added } = await trx
      .selectFrom('app.batch_repo')
      .select((eb) => eb.fn.countAll<number>().as('added'))
      .where('batch_id', '=', batch.id)
      .where('add_state', '=', 'added')
      .executeTakeFirstOrThrow()
    await appendAudit(trx, {
      actor,
      action: 'repos_add_finished',
      target,
      outcome: stop === undefined ? 'ok' : stop.kind === 'refused' ? 'fallback_settings_page' : 'stopped',
      ...(stop === undefined ? {} : { reason: stop.reason }),
      requestId: job.requestId,
      detail: { path, added: Number(added) },
    })
    // Checks paused while this run added (one webhook per repository): one check now.
    await requestCoverage(trx, options.coverage, { ownerId: batch.owner_id, actor, ...(job.requestId === undefined ? {} : { requestId: job.requestId }) })
  })
  options.wake()
}
