import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { githubStatus } from '../github/token-fault.js'
import { appendAudit, type AuditActor } from './audit.js'
import { unwatched, type Progress } from './background-work.js'
import { planBatches, type Batch, type Viewer } from './batches.js'
import { checkCoverageNow, noteUnanswered } from './coverage.js'
import { attachInstallation, installationOn, liveInstallationOf, recordInstallation } from './installations.js'
import { savePlan } from './plan-store.js'

// Planning a user's migration: the batches from the legacy records and GitHub, kept in
// Postgres; then, per owner, whether the App is already installed there (asked as the App),
// and if so what that installation already covers. GitHub failing to answer for one owner is
// written on that owner's batch; the others go on.

export async function planMigration(db: Kysely<Database>, github: GitHubClients, viewer: Viewer, legacyToken: string, requestId?: string, progress: Progress = unwatched): Promise<void> {
  const inventory = await planBatches(db, github.asUser(legacyToken), viewer, progress)
  await savePlan(db, viewer, inventory, requestId)
  const actor: AuditActor = { kind: 'user', githubId: viewer.id, login: viewer.login }
  for (const [i, batch] of inventory.batches.entries()) {
    await progress('installations', i, inventory.batches.length)
    let installation
    try {
      installation = await installationOn(github, batch.owner)
    } catch (error) {
      githubStatus(error)
      await noteUnanswered(db, batch.owner.id, `GitHub did not say whether the App is installed on ${batch.owner.login}: look again in a moment.`, { actor, requestId }, viewer.id)
      continue
    }
    // Asked by login, which another account may hold since a rename: only the owner's own
    // installation (by id) is ever recorded.
    if (installation === undefined || installation.accountId !== batch.owner.id) {
      // Uninstalled while its webhook did not reach us: the check finds out and says so.
      if ((await liveInstallationOf(db, batch.owner.id)) !== undefined) await checkCoverageNow(db, github, batch.owner.id, { actor, requestId })
      else await clearProblem(db, batch, viewer)
      continue
    }
    await db.transaction().execute(async (trx) => {
      await recordInstallation(trx, installation)
      const attached = await attachInstallation(trx, installation.id, batch.owner.id, viewer.id)
      // GitHub names the account as it is called today (a renamed organization).
      await trx.updateTable('app.batch').set({ owner_login: installation.accountLogin }).where('owner_id', '=', batch.owner.id).where('owner_login', '<>', installation.accountLogin).execute()
      if (attached.length > 0) {
        await appendAudit(trx, {
          actor,
          action: 'installation_found',
          target: { ownerId: batch.owner.id, ownerLogin: installation.accountLogin, installationId: installation.id },
          outcome: 'ok',
          reason: 'The App was already installed on this account',
          requestId,
          detail: { repositorySelection: installation.repositorySelection },
        })
      }
    })
    await checkCoverageNow(db, github, batch.owner.id, { actor, requestId })
  }
}

/** Not installed, as GitHub just said: an earlier "GitHub did not answer" no longer holds. */
async function clearProblem(db: Kysely<Database>, batch: Batch, viewer: Viewer): Promise<void> {
  await db
    .updateTable('app.batch')
    .set({ coverage_problem: null, updated_at: sql<Date>`now()` })
    .where('user_id', '=', viewer.id)
    .where('owner_id', '=', batch.owner.id)
    .where('installation_id', 'is', null)
    .execute()
}
