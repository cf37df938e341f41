import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { appendAudit } from './audit.js'
import { planBatches, type Viewer } from './batches.js'
import { checkCoverage } from './coverage.js'
import { attachInstallation, installationOn, liveInstallationOf, recordInstallation } from './installations.js'
import { savePlan } from './plan-store.js'

// Planning a user's migration: the batches from the legacy records and GitHub, kept in
// Postgres; then, per owner, whether the App is already installed there (asked as the App),
// and if so what that installation already covers.

export async function planMigration(db: Kysely<Database>, github: GitHubClients, viewer: Viewer, legacyToken: string, requestId?: string): Promise<void> {
  const inventory = await planBatches(db, github.asUser(legacyToken), viewer)
  await savePlan(db, viewer, inventory, requestId)
  const actor = { kind: 'user' as const, githubId: viewer.id, login: viewer.login }
  for (const batch of inventory.batches) {
    const installation = await installationOn(github, batch.owner)
    if (installation === undefined) {
      // Uninstalled while its webhook did not reach us: the check finds out and says so.
      if ((await liveInstallationOf(db, batch.owner.id)) !== undefined) await checkCoverage(db, github, batch.owner.id, { actor, requestId })
      continue
    }
    await db.transaction().execute(async (trx) => {
      await recordInstallation(trx, installation)
      const attached = await attachInstallation(trx, installation.id, batch.owner.id, viewer.id)
      if (attached.length > 0) {
        await appendAudit(trx, {
          actor,
          action: 'installation_found',
          target: { ownerId: batch.owner.id, ownerLogin: batch.owner.login, installationId: installation.id },
          outcome: 'ok',
          reason: 'The App was already installed on this account',
          requestId,
          detail: { repositorySelection: installation.repositorySelection },
        })
      }
    })
    await checkCoverage(db, github, batch.owner.id, { actor, requestId })
  }
}
