import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { githubStatus } from '../github/token-fault.js'
import { appendAudit, type AuditActor } from './audit.js'
import { unwatched, type Progress } from './background-work.js'
import { planBatches, type Batch, type Viewer } from './batches.js'
import { noteUnanswered } from './coverage.js'
import { requestCoverage, type SendCoverage } from './coverage-job.js'
import { answered, installed } from './batch-state.js'
import { installationOn, recordInstallation, type KnownInstallation } from './installations.js'
import { savePlan } from './plan-store.js'

// Planning a user's migration: the batches from the legacy records and GitHub, kept in
// Postgres; then, per owner, whether the App is already installed there (asked as the App),
// and if so a check of what that installation already covers, a job of its own per owner
// (shared with every other user of that owner, and shown on the page as it goes). GitHub
// failing to answer for one owner is written on that owner's batch; the others go on.

type Lookup = { installation: KnownInstallation | undefined } | { error: unknown }

/**
 * Whether the App is installed on each owner, asked one owner at a time with the App's own
 * credential; never rejects (what went wrong is in the answer, read once the plan is saved).
 */
async function lookupInstallations(github: GitHubClients, owners: Batch['owner'][], looked: () => Promise<void>): Promise<Map<number, Lookup>> {
  const found = new Map<number, Lookup>()
  for (const owner of owners) {
    found.set(
      owner.id,
      await installationOn(github, owner).then(
        (installation) => ({ installation }),
        (error: unknown) => ({ error }),
      ),
    )
    await looked()
  }
  return found
}

/** How planning asks for an owner's coverage check: sent in a transaction, woken after commit. */
export interface CoverageRequests {
  send: SendCoverage
  wake: () => void
}

export async function planMigration(
  db: Kysely<Database>,
  github: GitHubClients,
  coverage: CoverageRequests,
  viewer: Viewer,
  legacyToken: string,
  requestId?: string,
  progress: Progress = unwatched,
): Promise<void> {
  // The installations are asked with the App's credential while the roles are asked with the
  // user's token: two lanes at once, so planning takes about as long as the longer of the two.
  let lookups: Promise<Map<number, Lookup>> = Promise.resolve(new Map())
  let rolesAsked = false
  let looked = 0
  const inventory = await planBatches(db, github.asUser(legacyToken), viewer, {
    progress,
    onOwners: (owners) => {
      lookups = lookupInstallations(github, owners, async () => {
        looked += 1
        if (rolesAsked) await progress('installations', looked, owners.length)
      })
    },
  })
  rolesAsked = true
  await savePlan(db, viewer, inventory, requestId)
  const found = await lookups
  const actor: AuditActor = { kind: 'user', githubId: viewer.id, login: viewer.login }
  // Owners GitHub says the App is not on: one query and one update for all of them, not two each.
  const notOn = inventory.batches.filter((b) => {
    const lookup = found.get(b.owner.id)!
    return 'installation' in lookup && lookup.installation?.accountId !== b.owner.id
  })
  const live = await stillRecorded(db, notOn.map((b) => b.owner.id))
  // Not installed, as GitHub just said: an earlier "GitHub did not answer" no longer holds.
  await answered(
    db,
    viewer.id,
    notOn.filter((b) => !live.has(b.owner.id)).map((b) => b.owner.id),
  )
  const checkOf = (ownerId: number) => ({ ownerId, actor, requestId })
  /** A check was asked for: the queue is woken once planning is done (one already waiting makes it a no-op). */
  let asked = false
  for (const batch of inventory.batches) {
    const lookup = found.get(batch.owner.id)!
    if ('error' in lookup) {
      githubStatus(lookup.error)
      await noteUnanswered(db, batch.owner.id, `GitHub did not say whether the App is installed on ${batch.owner.login}: look again in a moment.`, { actor, requestId }, viewer.id)
      continue
    }
    const { installation } = lookup
    // Asked by login, which another account may hold since a rename: only the owner's own
    // installation (by id) is ever recorded.
    if (installation === undefined || installation.accountId !== batch.owner.id) {
      // Uninstalled while its webhook did not reach us: the check finds out and says so.
      if (live.has(batch.owner.id)) {
        await db.transaction().execute((trx) => requestCoverage(trx, coverage.send, checkOf(batch.owner.id)))
        asked = true
      }
      continue
    }
    await db.transaction().execute(async (trx) => {
      await recordInstallation(trx, installation)
      const attached = await installed(trx, installation, { ownerId: batch.owner.id, userId: viewer.id })
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
      await requestCoverage(trx, coverage.send, checkOf(batch.owner.id))
    })
    asked = true
  }
  if (asked) coverage.wake()
}

/** Of these owners, those with an installation we still hold for live. */
async function stillRecorded(db: Kysely<Database>, ownerIds: number[]): Promise<Set<number>> {
  const rows = await db
    .selectFrom('app.installation')
    .select('account_id')
    .where(sql<boolean>`account_id = any(${ownerIds}::bigint[])`)
    .where('deleted_at', 'is', null)
    .execute()
  return new Set(rows.map((r) => r.account_id))
}
