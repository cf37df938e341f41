import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { appendAudit, type AuditActor } from './audit.js'
import { checkCoverage } from './coverage.js'
import { attachInstallation, recordInstallation } from './installations.js'

// What the App's `installation` and `installation_repositories` webhooks change: the
// installation as the service knows it, the batches of that account, and then their coverage,
// checked again with GitHub. The webhook route verified the signature and queued this.

export interface InstallationEventJob {
  deliveryId: string
  event: 'installation' | 'installation_repositories'
  action: string
  installation: { id: number; accountId: number; accountLogin: string; repositorySelection: 'all' | 'selected'; suspendedAt: string | null }
  sender: { id: number; login: string }
  requester: { id: number; login: string } | null
}

export async function applyInstallationEvent(db: Kysely<Database>, github: GitHubClients, job: InstallationEventJob): Promise<void> {
  const actor: AuditActor = { kind: 'github', githubId: job.sender.id, login: job.sender.login }
  const { installation } = job
  const target = { ownerId: installation.accountId, ownerLogin: installation.accountLogin, installationId: installation.id }
  await db.transaction().execute(async (trx) => {
    // Once per delivery: a retried job (its coverage check failed, say) goes straight to the check.
    const first = await trx
      .updateTable('app.webhook_delivery')
      .set({ applied_at: sql<Date>`now()` })
      .where('delivery_id', '=', job.deliveryId)
      .where('applied_at', 'is', null)
      .returning('delivery_id')
      .executeTakeFirst()
    if (first === undefined) return
    if (job.event === 'installation' && job.action === 'deleted') {
      await trx.updateTable('app.installation').set({ deleted_at: sql<Date>`now()`, updated_at: sql<Date>`now()` }).where('id', '=', installation.id).execute()
      const batches = await trx
        .updateTable('app.batch')
        .set({ status: 'planned', installation_id: null, adding: false, updated_at: sql<Date>`now()` })
        .where('installation_id', '=', installation.id)
        .returning(['id', 'user_id'])
        .execute()
      await appendAudit(trx, { actor, action: 'installation_deleted', target, outcome: 'ok', reason: `${job.sender.login} uninstalled the App`, detail: { deliveryId: job.deliveryId, batches: batches.length } })
      return
    }
    await recordInstallation(trx, {
      id: installation.id,
      accountId: installation.accountId,
      accountLogin: installation.accountLogin,
      repositorySelection: installation.repositorySelection,
      suspendedAt: installation.suspendedAt === null ? null : new Date(installation.suspendedAt),
    })
    // Batches waiting for this account's installation have it now: an approved request, an
    // install finished in another browser, or an owner who installed on their own.
    const waiting = await attachInstallation(trx, installation.id, installation.accountId)
    // GitHub names a requester when the change is an approved request: a new installation, or
    // repositories added to one that exists.
    const approved = job.requester !== null
    await appendAudit(trx, {
      actor,
      action: job.event === 'installation' ? `installation_${job.action}` : `installation_repositories_${job.action}`,
      target,
      outcome: 'ok',
      ...(approved ? { reason: `${job.sender.login} approved ${job.requester!.login}'s request` } : {}),
      detail: { deliveryId: job.deliveryId, repositorySelection: installation.repositorySelection, batchesAttached: waiting.length },
    })
  })
  await checkCoverage(db, github, installation.accountId, { actor })
}
