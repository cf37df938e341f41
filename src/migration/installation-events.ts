import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { githubStatus, tokenFault } from '../github/token-fault.js'
import { appendAudit, type AuditActor, type AuditTarget } from './audit.js'
import { requestCoverage, type SendCoverage } from './coverage-job.js'
import { installed, uninstalled } from './batch-state.js'
import { installationNow, recordInstallation, type KnownInstallation } from './installations.js'

// What the App's `installation` and `installation_repositories` webhooks change: the
// installation as the service knows it, the batches of that account, and then a check of their
// coverage with GitHub, as a job of its own. The webhook route verified the signature and
// queued this.
//
// A webhook is a hint, never the fact: the signature covers the body but not X-GitHub-Delivery,
// so a captured body sent again under a new delivery id passes every check the route can make.
// The job therefore asks GitHub, as the App, what the installation is now, and records only
// that: a `deleted` stands only when GitHub no longer has the installation, a `suspend` only
// when GitHub says it is suspended, and selection and suspension always come from GitHub.

export interface InstallationEventJob {
  deliveryId: string
  event: 'installation' | 'installation_repositories'
  action: string
  /** What the payload says; only the id is used to ask GitHub, the account to cross-check. */
  installation: { id: number; accountId: number; accountLogin: string }
  sender: { id: number; login: string }
  requester: { id: number; login: string } | null
}

/** Why GitHub's answer does not bear the webhook out; undefined when it does. */
function unconfirmed(job: InstallationEventJob, now: KnownInstallation | undefined): string | undefined {
  const { id, accountId } = job.installation
  const deleted = job.event === 'installation' && job.action === 'deleted'
  if (now === undefined) return deleted ? undefined : `GitHub has no installation ${id}.`
  if (now.accountId !== accountId) return `GitHub has installation ${id} on account ${now.accountId}, not on account ${accountId} as the webhook says.`
  if (deleted) return `GitHub still has installation ${id}.`
  if (job.action === 'suspend' && now.suspendedAt === null) return `GitHub has installation ${id} and it is not suspended.`
  return undefined
}

/** Marks the delivery applied; false when a run of this job already did (a retry). */
async function claimDelivery(trx: Kysely<Database>, deliveryId: string): Promise<boolean> {
  const first = await trx
    .updateTable('app.webhook_delivery')
    .set({ applied_at: sql<Date>`now()` })
    .where('delivery_id', '=', deliveryId)
    .where('applied_at', 'is', null)
    .returning('delivery_id')
    .executeTakeFirst()
  return first !== undefined
}

/** The installation is gone: marked so, and every batch that had it can be installed again. */
async function forgetInstallation(trx: Kysely<Database>, installationId: number): Promise<number> {
  await trx.updateTable('app.installation').set({ deleted_at: sql<Date>`now()`, updated_at: sql<Date>`now()` }).where('id', '=', installationId).execute()
  return (await uninstalled(trx, { installationId })).length
}

/** `coverage` queues the owner's coverage check; `wake` wakes the workers once it is committed. */
export async function applyInstallationEvent(db: Kysely<Database>, github: GitHubClients, job: InstallationEventJob, coverage: SendCoverage, wake: () => void): Promise<void> {
  const actor: AuditActor = { kind: 'github', githubId: job.sender.id, login: job.sender.login }
  const { installation } = job
  const target: AuditTarget = { ownerId: installation.accountId, ownerLogin: installation.accountLogin, installationId: installation.id }
  const said = { deliveryId: job.deliveryId, event: job.event, action: job.action }
  let now: KnownInstallation | undefined
  try {
    now = await installationNow(github, installation.id, installation.accountLogin)
  } catch (error) {
    // GitHub could not answer now (an outage, a rate limit, the network): pg-boss tries again later.
    if (tokenFault(error).kind === 'unavailable') throw error
    // The App's own credential refused (401/403): trying again changes nothing, so the
    // delivery is recorded as not applied, for a person to look at, and the job ends.
    const status = githubStatus(error)
    await db.transaction().execute(async (trx) => {
      if (!(await claimDelivery(trx, job.deliveryId))) return
      const reason = `GitHub answered ${status} when the App asked about installation ${installation.id}; nothing was changed.`
      await appendAudit(trx, { actor, action: 'webhook_unconfirmed', target, outcome: 'failed', reason, detail: { ...said, status } })
    })
    return
  }
  const doubt = unconfirmed(job, now)
  await db.transaction().execute(async (trx) => {
    // The account whose batches used the installation: GitHub's, else the one on record, else
    // the payload's (an installation the service never knew).
    const known = await trx.selectFrom('app.installation').select('account_id').where('id', '=', installation.id).executeTakeFirst()
    const ownerId = now?.accountId ?? known?.account_id ?? installation.accountId
    // Once per delivery: a retried job whose first run committed has nothing left to do.
    if (!(await claimDelivery(trx, job.deliveryId))) return
    await applyConfirmed(trx)
    // Whatever GitHub said, the owner's coverage is checked again with it; asked for last, as
    // every transaction does (installation, then batches, then the check), or a setup callback
    // recording the same installation deadlocks with this.
    await requestCoverage(trx, coverage, { ownerId, actor })
  })
  wake()

  async function applyConfirmed(trx: Kysely<Database>): Promise<void> {
    // Gone on GitHub: whatever the webhook said, no batch may wait on this installation.
    const reset = now === undefined ? await forgetInstallation(trx, installation.id) : 0
    if (doubt !== undefined) {
      // A `deleted` or `suspend` GitHub does not bear out, or an installation GitHub puts on
      // another account (never given to this account's batches), changes nothing.
      await appendAudit(trx, { actor, action: 'webhook_unconfirmed', target, outcome: 'ignored', reason: doubt, detail: { ...said, batchesReset: reset } })
      return
    }
    if (now === undefined) {
      const reason = `${job.sender.login} uninstalled the App`
      await appendAudit(trx, { actor, action: 'installation_deleted', target, outcome: 'ok', reason, detail: { deliveryId: job.deliveryId, batches: reset } })
      return
    }
    await recordInstallation(trx, now)
    // Batches waiting for this account's installation have it now: an approved request, an
    // install finished in another browser, or an owner who installed on their own.
    const waiting = await installed(trx, now, { ownerId: now.accountId })
    // GitHub names a requester when the change is an approved request: a new installation, or
    // repositories added to one that exists.
    const approved = job.requester !== null
    await appendAudit(trx, {
      actor,
      action: job.event === 'installation' ? `installation_${job.action}` : `installation_repositories_${job.action}`,
      target: { ...target, ownerLogin: now.accountLogin },
      outcome: 'ok',
      ...(approved ? { reason: `${job.sender.login} approved ${job.requester!.login}'s request` } : {}),
      detail: { deliveryId: job.deliveryId, repositorySelection: now.repositorySelection, batchesAttached: waiting.length },
    })
  }
}
