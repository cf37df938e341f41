import type { Kysely, Selectable } from 'kysely'
import type { Database, LegacyWebhooksTable, UnseenKind } from '../db/database.js'
import type { GitHubOctokit } from '../github/octokit.js'
import { ssoPartialOrgs, type UnseenFault } from '../github/token-fault.js'
import { unwatched, type Progress } from './background-work.js'
import { PlanNotes, type PlanNote } from './plan-notes.js'
import { faultOf, lookupRepos, refreshRepos, type RepoNow } from './repo-refresh.js'

// One installation batch per current owner: what the signed-in user sees of the legacy
// registrations of their own account, of every org they belong to that has any, and of every
// owner of their own registrations, refreshed through GitHub with their legacy token so that
// renamed and transferred repositories land on their owner of today. What the token may not
// see (single sign-on, a scope it was never granted, no answer) is planned from the records
// and noted with the reason, never a reason to stop.

export interface Viewer {
  id: number
  login: string
}

/** unknown: GitHub would not tell the legacy token; GitHub's install page offers Install or Request itself. */
export type Role = 'owner' | 'admin' | 'member' | 'outsider' | 'unknown'

export interface BatchRepo {
  id: number
  name: string
  private: boolean
  /** The legacy record named another owner: the repository was transferred since. */
  moved: boolean
  /** Vendor users whose legacy registration created a hook on it. */
  enabledBy: string[]
  hookIds: number[]
  /** The legacy token could not see it now (the kind of fault): planned by its record. */
  unseen: UnseenKind | null
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
  notes: PlanNote[]
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

/** The scopes GitHub takes for a user's own organization membership. */
const ORG_SCOPES = ['admin:org', 'read:org', 'write:org']

/**
 * The user's role in the owner. `askable` is false when GitHub refused the organization list for
 * a missing scope: the token then holds none of the organization scopes either, and asking per
 * organization would cost a request each to be refused the same way.
 */
async function roleOn(legacy: GitHubOctokit, viewer: Viewer, owner: Batch['owner'], notes: PlanNotes, askable: boolean): Promise<Role> {
  if (owner.id === viewer.id) return 'owner'
  if (owner.type === 'User') return 'outsider'
  const unknown = (fault: UnseenFault): Role => {
    notes.add(fault, owner, `your role in ${owner.login}`, "GitHub's install page offers Install or Request, as your role there allows.")
    return 'unknown'
  }
  if (!askable) return unknown({ kind: 'scope', needs: ORG_SCOPES })
  try {
    const { data } = await legacy.request('GET /user/memberships/orgs/{org}', { org: owner.login })
    return data.role === 'admin' ? 'admin' : 'member'
  } catch (error) {
    const fault = faultOf(error)
    return fault.kind === 'not_found' ? 'outsider' : unknown(fault)
  }
}

interface OrgList {
  /** Organization id -> login today. */
  orgs: Map<number, string>
  /** Organizations GitHub left out of the list (SAML single sign-on): the user's too, login unknown. */
  ssoOrgIds: Set<number>
  /** False when GitHub would not list them to this token. */
  listed: boolean
  /** GitHub refused the list for a scope the token lacks. */
  scopeRefused: boolean
}

/** The user's organizations, and those GitHub left out for single sign-on; or why it would not say. */
async function listOrgs(legacy: GitHubOctokit, notes: PlanNotes): Promise<OrgList> {
  const out: OrgList = { orgs: new Map(), ssoOrgIds: new Set(), listed: true, scopeRefused: false }
  try {
    for await (const page of legacy.paginate.iterator('GET /user/orgs', { per_page: 100 })) {
      for (const id of ssoPartialOrgs(page.headers['x-github-sso'])) out.ssoOrgIds.add(id)
      for (const org of page.data) out.orgs.set(org.id, org.login)
    }
  } catch (error) {
    const fault = faultOf(error)
    notes.add(fault, null, 'the list of your organizations', 'Your organizations are found from the repositories it can see instead.')
    out.listed = false
    out.scopeRefused = fault.kind === 'scope'
  }
  return out
}

function repoIdsOf(rows: LegacyRow[]): number[] {
  return [...new Set(rows.flatMap((r) => (r.repo_id === null ? [] : [r.repo_id])))]
}

// Where the role is unknown, GitHub's install page offers Install or Request as the user may.
const ACTION: Record<Role, Batch['action']> = { owner: 'install', admin: 'install', member: 'request', outsider: 'none', unknown: 'install' }

const LIST = 'the list of your repositories'
const ONE_BY_ONE = 'Your repositories are looked up one by one instead.'

export interface PlanWatch {
  progress?: Progress
  /** Told the owners as soon as they are known, before their roles are asked. */
  onOwners?: (owners: Batch['owner'][]) => void
}

export async function planBatches(db: Kysely<Database>, legacy: GitHubOctokit, viewer: Viewer, watch: PlanWatch = {}): Promise<Inventory> {
  const progress = watch.progress ?? unwatched
  const notes = new PlanNotes()
  const { orgs, ssoOrgIds, listed, scopeRefused } = await listOrgs(legacy, notes)
  const orgIds = () => [...orgs.keys(), ...ssoOrgIds]
  let rows: LegacyRow[]
  let now: Map<number, RepoNow>
  if (listed) {
    rows = await legacyRows(db, viewer.id, orgIds())
    const refreshed = await refreshRepos(legacy, repoIdsOf(rows), { progress })
    now = refreshed.repos
    if (refreshed.listFault !== undefined) notes.add(refreshed.listFault, null, LIST, ONE_BY_ONE)
  } else {
    // No organization list for this token: the organizations owning repositories it can see
    // stand in for it, so the whole list is read first.
    const refreshed = await refreshRepos(legacy, [], { listAll: true, progress })
    if (refreshed.listFault !== undefined) notes.add(refreshed.listFault, null, LIST, ONE_BY_ONE)
    for (const [id, login] of refreshed.orgs) orgs.set(id, login)
    for (const id of refreshed.ssoOrgIds) ssoOrgIds.add(id)
    rows = await legacyRows(db, viewer.id, orgIds())
    now = refreshed.repos
    const unlisted = repoIdsOf(rows).filter((id) => !now.has(id))
    for (const [id, repo] of await lookupRepos(legacy, unlisted, progress)) now.set(id, repo)
  }

  const batches = new Map<number, Batch>()
  const batchOf = (owner: Batch['owner']): Batch => {
    let batch = batches.get(owner.id)
    if (batch === undefined) {
      batch = { owner, role: 'outsider', action: 'none', repos: [], hiddenRepos: 0, orgHooks: [] }
      batches.set(owner.id, batch)
    }
    return batch
  }
  // An organization renamed since it was recorded goes by its login of today where GitHub said it.
  const recordedOwner = (row: LegacyRow): Batch['owner'] => ({ id: row.owner_id, login: orgs.get(row.owner_id) ?? row.owner_login, type: row.owner_type })
  const hidden = new Map<number, Set<number>>()
  const gone: GoneRepo[] = []
  /** Someone else's registration the user cannot see: it still counts for its owner. */
  const hide = (row: LegacyRow): void => {
    batchOf(recordedOwner(row))
    const set = hidden.get(row.owner_id) ?? new Set<number>()
    hidden.set(row.owner_id, set.add(row.repo_id!))
  }
  const addRepo = (batch: Batch, repo: Omit<BatchRepo, 'enabledBy' | 'hookIds'>, row: LegacyRow): void => {
    let entry = batch.repos.find((r) => r.id === repo.id)
    if (entry === undefined) {
      entry = { ...repo, enabledBy: [], hookIds: [] }
      batch.repos.push(entry)
    }
    if (!entry.enabledBy.includes(row.enabled_by)) entry.enabledBy.push(row.enabled_by)
    entry.hookIds.push(row.hook_id)
  }

  for (const row of rows) {
    if (row.kind === 'org') {
      const batch = batchOf(recordedOwner(row))
      batch.orgHooks.push({ hookId: row.hook_id, enabledBy: [row.enabled_by] })
      continue
    }
    const found = now.get(row.repo_id!)!
    const mine = row.github_user_id === viewer.id
    if (found.status === 'unseen') {
      const owner = recordedOwner(row)
      notes.add(found.fault, owner, undefined, "They are planned from the records; GitHub's install page shows them to you as you can see them there.")
      // The user's own record names it; someone else's may be private: counted, never named.
      if (mine) addRepo(batchOf(owner), { id: row.repo_id!, name: row.repo_name ?? `#${row.repo_id}`, private: true, moved: false, unseen: found.fault.kind }, row)
      else hide(row)
      continue
    }
    if (found.status === 'gone') {
      if (mine) gone.push({ repoId: row.repo_id!, repoName: row.repo_name, ownerLogin: row.owner_login, hookId: row.hook_id })
      else hide(row)
      continue
    }
    const { repo } = found
    const owner = { id: repo.ownerId, login: repo.ownerLogin, type: repo.ownerType }
    addRepo(batchOf(owner), { id: repo.id, name: repo.name, private: repo.private, moved: repo.ownerId !== row.owner_id, unseen: null }, row)
  }
  for (const [ownerId, repos] of hidden) batches.get(ownerId)!.hiddenRepos = repos.size

  const planned = [...batches.values()]
  watch.onOwners?.(planned.map((b) => b.owner))
  for (const [i, batch] of planned.entries()) {
    await progress('roles', i, planned.length)
    batch.role = await roleOn(legacy, viewer, batch.owner, notes, !scopeRefused)
    batch.action = ACTION[batch.role]
    batch.repos.sort((a, b) => a.name.localeCompare(b.name))
  }
  // The user's own account first, then owners by login.
  planned.sort((a, b) => Number(b.owner.id === viewer.id) - Number(a.owner.id === viewer.id) || a.owner.login.localeCompare(b.owner.login))
  return { batches: planned, gone, notes: notes.list() }
}
