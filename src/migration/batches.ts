import type { Kysely, Selectable } from 'kysely'
import type { Database, LegacyWebhooksTable } from '../db/database.js'
import type { GitHubOctokit } from '../github/octokit.js'
import { LegacyTokenRevoked, refreshRepos } from './repo-refresh.js'

// One installation batch per current owner: what the signed-in user sees of the legacy
// registrations of their own account, of every org they belong to that has any, and of every
// owner of their own registrations, refreshed through GitHub with their legacy token so that
// renamed and transferred repositories land on their owner of today.

export interface Viewer {
  id: number
  login: string
}

export type Role = 'owner' | 'admin' | 'member' | 'outsider'

export interface BatchRepo {
  id: number
  name: string
  private: boolean
  /** The legacy record named another owner: the repository was transferred since. */
  moved: boolean
  /** Vendor users whose legacy registration created a hook on it. */
  enabledBy: string[]
  hookIds: number[]
}

export interface Batch {
  owner: { id: number; login: string; type: 'User' | 'Organization' }
  role: Role
  /** Owners install; org members request an owner's approval; others can only look. */
  action: 'install' | 'request' | 'none'
  repos: BatchRepo[]
  /** Legacy-enabled private repositories of this owner the user cannot see: counted, never named. */
  hiddenRepos: number
  orgHooks: { hookId: number; enabledBy: string[] }[]
}

export interface GoneRepo {
  repoId: number
  /** As recorded, possibly stale. */
  repoName: string | null
  ownerLogin: string
  hookId: number
}

export interface Inventory {
  batches: Batch[]
  /** The user's own registrations whose repository GitHub no longer shows them. */
  gone: GoneRepo[]
}

type LegacyRow = Pick<
  Selectable<LegacyWebhooksTable>,
  'github_user_id' | 'kind' | 'owner_id' | 'owner_login' | 'owner_type' | 'repo_id' | 'repo_name' | 'hook_id'
> & { enabled_by: string }

async function legacyRows(db: Kysely<Database>, viewerId: number, orgIds: number[]): Promise<LegacyRow[]> {
  const mine = db.selectFrom('legacy.webhooks').select('owner_id').where('github_user_id', '=', viewerId)
  return db
    .selectFrom('legacy.webhooks as w')
    .leftJoin('legacy.oauth_users as u', 'u.github_user_id', 'w.github_user_id')
    .select(['w.github_user_id', 'w.kind', 'w.owner_id', 'w.owner_login', 'w.owner_type', 'w.repo_id', 'w.repo_name', 'w.hook_id'])
    .select((eb) => eb.fn.coalesce('u.login', eb.cast<string>(eb.ref('w.github_user_id'), 'text')).as('enabled_by'))
    .where((eb) => eb.or([eb('w.owner_id', 'in', [viewerId, ...orgIds]), eb('w.owner_id', 'in', mine)]))
    .orderBy('w.hook_id')
    .execute()
}

async function roleOn(legacy: GitHubOctokit, viewer: Viewer, owner: Batch['owner']): Promise<Role> {
  if (owner.id === viewer.id) return 'owner'
  if (owner.type === 'User') return 'outsider'
  try {
    const { data } = await legacy.request('GET /user/memberships/orgs/{org}', { org: owner.login })
    return data.role === 'admin' ? 'admin' : 'member'
  } catch (error) {
    if ((error as { status?: number }).status === 404) return 'outsider'
    throw error
  }
}

const ACTION: Record<Role, Batch['action']> = { owner: 'install', admin: 'install', member: 'request', outsider: 'none' }

export async function planBatches(db: Kysely<Database>, legacy: GitHubOctokit, viewer: Viewer): Promise<Inventory> {
  let orgs: { id: number }[]
  try {
    orgs = await legacy.paginate('GET /user/orgs', { per_page: 100 })
  } catch (error) {
    if ((error as { status?: number }).status === 401) throw new LegacyTokenRevoked('GitHub no longer accepts the legacy OAuth token')
    throw error
  }
  const rows = await legacyRows(
    db,
    viewer.id,
    orgs.map((o) => o.id),
  )
  const now = await refreshRepos(legacy, [...new Set(rows.flatMap((r) => (r.repo_id === null ? [] : [r.repo_id])))])

  const batches = new Map<number, Batch>()
  const batchOf = (owner: Batch['owner']): Batch => {
    let batch = batches.get(owner.id)
    if (batch === undefined) {
      batch = { owner, role: 'outsider', action: 'none', repos: [], hiddenRepos: 0, orgHooks: [] }
      batches.set(owner.id, batch)
    }
    return batch
  }
  const recordedOwner = (row: LegacyRow): Batch['owner'] => ({ id: row.owner_id, login: row.owner_login, type: row.owner_type })
  const hidden = new Map<number, Set<number>>()
  const gone: GoneRepo[] = []

  for (const row of rows) {
    if (row.kind === 'org') {
      const batch = batchOf(recordedOwner(row))
      batch.orgHooks.push({ hookId: row.hook_id, enabledBy: [row.enabled_by] })
      continue
    }
    const found = now.get(row.repo_id!)!
    if (found.status === 'gone') {
      if (row.github_user_id === viewer.id) gone.push({ repoId: row.repo_id!, repoName: row.repo_name, ownerLogin: row.owner_login, hookId: row.hook_id })
      else {
        // Someone else's registration the user cannot see: it still counts for its owner.
        batchOf(recordedOwner(row))
        const set = hidden.get(row.owner_id) ?? new Set<number>()
        hidden.set(row.owner_id, set.add(row.repo_id!))
      }
      continue
    }
    const { repo } = found
    const batch = batchOf({ id: repo.ownerId, login: repo.ownerLogin, type: repo.ownerType })
    let entry = batch.repos.find((r) => r.id === repo.id)
    if (entry === undefined) {
      entry = { id: repo.id, name: repo.name, private: repo.private, moved: repo.ownerId !== row.owner_id, enabledBy: [], hookIds: [] }
      batch.repos.push(entry)
    }
    if (!entry.enabledBy.includes(row.enabled_by)) entry.enabledBy.push(row.enabled_by)
    entry.hookIds.push(row.hook_id)
  }
  for (const [ownerId, repos] of hidden) batches.get(ownerId)!.hiddenRepos = repos.size

  const planned = [...batches.values()]
  for (const batch of planned) {
    batch.role = await roleOn(legacy, viewer, batch.owner)
    batch.action = ACTION[batch.role]
    batch.repos.sort((a, b) => a.name.localeCompare(b.name))
  }
  // The user's own account first, then owners by login.
  planned.sort((a, b) => Number(b.owner.id === viewer.id) - Number(a.owner.id === viewer.id) || a.owner.login.localeCompare(b.owner.login))
  return { batches: planned, gone }
}
