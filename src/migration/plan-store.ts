import { sql, type Kysely, type Selectable, type Transaction } from 'kysely'
import type { BatchRepoTable, BatchTable, Database, GoneRepoRecord, InstallationTable, PlanNoteRecord } from '../db/database.js'
import { appendAudit } from './audit.js'
import type { Inventory, Viewer } from './batches.js'

// The planned batches of each user, kept so that the wizard resumes where the user left it
// and a later view reads Postgres instead of asking GitHub again. Planning again keeps what
// GitHub already confirmed (status, installation, coverage) and takes the rest from the plan.

export type StoredBatchRow = Selectable<BatchTable>
export type StoredRepo = Selectable<BatchRepoTable>

export interface StoredBatch extends StoredBatchRow {
  repos: StoredRepo[]
  orgHooks: { hookId: number; enabledBy: string[] }[]
  installation: Selectable<InstallationTable> | undefined
}

export interface StoredPlan {
  plannedAt: Date
  /** When the user's grant of the old app was revoked; null while it stands. */
  grantRevokedAt: Date | null
  gone: GoneRepoRecord[]
  notes: PlanNoteRecord[]
  batches: StoredBatch[]
}

export async function savePlan(db: Kysely<Database>, viewer: Viewer, inventory: Inventory, requestId?: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('app.inventory')
      .values({ user_id: viewer.id, user_login: viewer.login, planned_at: new Date(), gone: JSON.stringify(inventory.gone), notes: JSON.stringify(inventory.notes) })
      .onConflict((oc) =>
        oc.column('user_id').doUpdateSet((eb) => ({ user_login: eb.ref('excluded.user_login'), planned_at: eb.ref('excluded.planned_at'), gone: eb.ref('excluded.gone'), notes: eb.ref('excluded.notes') })),
      )
      .execute()
    const owners = inventory.batches.map((b) => b.owner.id)
    // Owners the user no longer has anything with: their batches go (install states with them).
    await trx
      .deleteFrom('app.batch')
      .where('user_id', '=', viewer.id)
      .$if(owners.length > 0, (q) => q.where('owner_id', 'not in', owners))
      .execute()
    for (const batch of inventory.batches) {
      const { id } = await trx
        .insertInto('app.batch')
        .values({
          user_id: viewer.id,
          owner_id: batch.owner.id,
          owner_login: batch.owner.login,
          owner_type: batch.owner.type,
          role: batch.role,
          action: batch.action,
          hidden_repos: batch.hiddenRepos,
          installation_id: null,
          coverage_checked_at: null,
        })
        .onConflict((oc) =>
          oc.columns(['user_id', 'owner_id']).doUpdateSet((eb) => ({
            owner_login: eb.ref('excluded.owner_login'),
            owner_type: eb.ref('excluded.owner_type'),
            role: eb.ref('excluded.role'),
            action: eb.ref('excluded.action'),
            hidden_repos: eb.ref('excluded.hidden_repos'),
            updated_at: sql<Date>`now()`,
          })),
        )
        .returning('id')
        .executeTakeFirstOrThrow()
      const repoIds = batch.repos.map((r) => r.id)
      await trx
        .deleteFrom('app.batch_repo')
        .where('batch_id', '=', id)
        .$if(repoIds.length > 0, (q) => q.where('repo_id', 'not in', repoIds))
        .execute()
      if (batch.repos.length > 0) {
        await trx
          .insertInto('app.batch_repo')
          .values(
            batch.repos.map((r) => ({
              batch_id: id,
              repo_id: r.id,
              repo_name: r.name,
              private: r.private,
              moved: r.moved,
              enabled_by: r.enabledBy,
              hook_ids: r.hookIds,
              unseen: r.unseen,
              moved_to: null,
              add_state: null,
              add_reason: null,
            })),
          )
          .onConflict((oc) =>
            oc.columns(['batch_id', 'repo_id']).doUpdateSet((eb) => ({
              repo_name: eb.ref('excluded.repo_name'),
              private: eb.ref('excluded.private'),
              moved: eb.ref('excluded.moved'),
              enabled_by: eb.ref('excluded.enabled_by'),
              hook_ids: eb.ref('excluded.hook_ids'),
              unseen: eb.ref('excluded.unseen'),
            })),
          )
          .execute()
      }
      await trx.deleteFrom('app.batch_org_hook').where('batch_id', '=', id).execute()
      if (batch.orgHooks.length > 0) {
        await trx
          .insertInto('app.batch_org_hook')
          .values(batch.orgHooks.map((h) => ({ batch_id: id, hook_id: h.hookId, enabled_by: h.enabledBy })))
          .execute()
      }
      await appendAudit(trx, {
        actor: { kind: 'user', githubId: viewer.id, login: viewer.login },
        action: 'batch_planned',
        target: { ownerId: batch.owner.id, ownerLogin: batch.owner.login },
        outcome: 'ok',
        requestId,
        detail: { role: batch.role, action: batch.action, repos: batch.repos.length, hiddenRepos: batch.hiddenRepos, orgHooks: batch.orgHooks.length },
      })
    }
  })
}

/** The batches of one user, or, with `ownerId`, of every user for that owner. */
async function storedBatches(db: Kysely<Database> | Transaction<Database>, rows: StoredBatchRow[]): Promise<StoredBatch[]> {
  if (rows.length === 0) return []
  const ids = rows.map((b) => b.id)
  const [repos, hooks, installations] = await Promise.all([
    db.selectFrom('app.batch_repo').selectAll().where('batch_id', 'in', ids).orderBy('repo_name').execute(),
    db.selectFrom('app.batch_org_hook').selectAll().where('batch_id', 'in', ids).orderBy('hook_id').execute(),
    db
      .selectFrom('app.installation')
      .selectAll()
      .where('id', 'in', rows.map((b) => b.installation_id ?? 0))
      .execute(),
  ])
  // Grouped in one pass: a plan of thousands of repositories over dozens of owners is read on
  // every visit to the wizard's page.
  const byBatch = new Map<number, StoredBatch>(rows.map((row) => [row.id, { ...row, repos: [], orgHooks: [], installation: installations.find((i) => i.id === row.installation_id) }]))
  for (const repo of repos) byBatch.get(repo.batch_id)!.repos.push(repo)
  for (const hook of hooks) byBatch.get(hook.batch_id)!.orgHooks.push({ hookId: hook.hook_id, enabledBy: hook.enabled_by })
  return [...byBatch.values()]
}

export async function loadPlan(db: Kysely<Database>, userId: number): Promise<StoredPlan | undefined> {
  const inventory = await db.selectFrom('app.inventory').selectAll().where('user_id', '=', userId).executeTakeFirst()
  if (inventory === undefined) return undefined
  const rows = await db
    .selectFrom('app.batch')
    .selectAll()
    .where('user_id', '=', userId)
    // The user's own account first, then owners by login.
    .orderBy(sql`owner_id = ${userId}`, 'desc')
    .orderBy('owner_login')
    .execute()
  return { plannedAt: inventory.planned_at, grantRevokedAt: inventory.grant_revoked_at, gone: inventory.gone, notes: inventory.notes, batches: await storedBatches(db, rows) }
}

export async function loadBatch(db: Kysely<Database>, batchId: number): Promise<StoredBatch | undefined> {
  const rows = await db.selectFrom('app.batch').selectAll().where('id', '=', batchId).execute()
  return (await storedBatches(db, rows))[0]
}

export async function batchesOfOwner(db: Kysely<Database>, ownerId: number): Promise<StoredBatch[]> {
  const rows = await db.selectFrom('app.batch').selectAll().where('owner_id', '=', ownerId).orderBy('id').execute()
  return storedBatches(db, rows)
}
