import { randomBytes } from 'node:crypto'
import type { Permission, World, WorldHook } from './world.js'

// The simulated GitHub's memory: accounts, repositories and hooks, the app's installations,
// tokens, and the logs tests read. One instance per simulator; everything is in memory and
// indexed for the lookups the API makes on every request.

export type RepoPermission = 'none' | Permission
export type OrgRole = 'admin' | 'member'

export interface Account {
  id: number
  login: string
  type: 'User' | 'Organization'
  siteAdmin: boolean
  createdAt: Date
}

export interface User extends Account {
  type: 'User'
  legacyToken: string | null
  legacyScopes: string[]
  /** Ids of the SAML SSO orgs the legacy token is authorized for (ids: renames keep them). */
  legacyTokenSsoOrgs: Set<number>
}

export interface Hook {
  id: number
  kind: 'repo' | 'org'
  /** The repository's or the organization's id. */
  parentId: number
  url: string
  events: string[]
  active: boolean
  /** client_id of the OAuth App whose token created it, or 'user'. */
  createdBy: string
  createdAt: Date
  updatedAt: Date
}

export interface Org extends Account {
  type: 'Organization'
  members: Map<number, OrgRole>
  defaultPermission: RepoPermission
  hooks: Map<number, Hook>
  /** Enforces SAML single sign-on: legacy tokens reach it only once authorized for it. */
  samlSso: boolean
}

export interface Repo {
  id: number
  ownerId: number
  name: string
  private: boolean
  archived: boolean
  collaborators: Map<number, Permission>
  hooks: Map<number, Hook>
  /** Where it was before renames and transfers, for GitHub's redirects. */
  formerNames: string[]
  deleted: boolean
  createdAt: Date
  updatedAt: Date
}

export interface Installation {
  id: number
  accountId: number
  repositorySelection: 'all' | 'selected'
  repositoryIds: Set<number>
  permissions: Record<string, Permission>
  events: string[]
  suspendedAt: Date | null
  suspendedBy: number | null
  createdAt: Date
  updatedAt: Date
}

export interface InstallationRequest {
  id: number
  accountId: number
  requesterId: number
  repositorySelection: 'all' | 'selected'
  repositoryIds: number[]
  createdAt: Date
}

export type Token =
  | { kind: 'legacy'; userId: number; scopes: string[]; clientId: string }
  | { kind: 'user'; userId: number; expiresAt: Date }
  | {
      kind: 'installation'
      installationId: number
      expiresAt: Date
      /** Narrowed at creation; absent: every repository of the installation. */
      repositoryIds?: Set<number>
      permissions: Record<string, Permission>
      /** GitHub's replication lag: the first call with a new token may get 401. */
      failFirstUse: boolean
    }

export interface OAuthCode {
  clientId: string
  userId: number
  redirectUri: string
  codeChallenge?: string
  expiresAt: Date
}

export interface RefreshToken {
  userId: number
  expiresAt: Date
}

/** What the simulator sends to the app's webhook URL; payloads are built by delivery.ts. */
export type SimEvent =
  | {
      name: 'installation'
      action: 'created' | 'deleted' | 'suspend' | 'unsuspend'
      installation: Installation
      sender: Account
      /** For an approved request: who asked. */
      requester?: User
    }
  | {
      name: 'installation_repositories'
      action: 'added' | 'removed'
      installation: Installation
      added: Repo[]
      removed: Repo[]
      sender: Account
      /** For an approved request: who asked. */
      requester?: User
    }

/** Faults a test switches on through /_sim/faults. */
export interface Faults {
  /** Added to every API response. */
  latencyMs: number
  /** A route pattern (e.g. "GET /installation/repositories") fails with `status` at `rate` (0..1). */
  errors: {
    method: string
    pattern: string
    status: number
    rate: number
    /** Only requests acting as this login (a user's token): one user's token failing, everyone else's fine. */
    actor?: string
    /** GitHub carries the request out and its answer is lost on the way: `status` arrives instead (a dropped connection behind a proxy). */
    lost?: boolean
    /** Refused as a secondary rate limit (403 or 429 with GitHub's message), with this retry-after in seconds: not carried out. */
    retryAfter?: number
  }[]
  /** The first call with each new installation token gets 401, as GitHub's replication lag does. */
  installationTokenLag: boolean
}

/** GitHub's limits, scaled so tests can reach them. */
export interface Limits {
  /** Primary quota: requests per token per hour. */
  hourlyQuota: number
  /** Secondary limit: requests of one token in flight at once. */
  concurrentPerToken: number
  /** Secondary limit: writes (POST/PUT/PATCH/DELETE) of one token per minute. */
  writesPerMinute: number
}

export interface ApiLogEntry {
  at: Date
  method: string
  path: string
  tokenKind: 'legacy' | 'user' | 'installation' | 'jwt' | 'none' | 'invalid'
  /** The user or installation the token acts as. */
  actor?: string
  status: number
}

/** A request refused by a secondary limit or the hourly quota: which credential, never the token. */
export interface Breach {
  at: Date
  limit: 'concurrent' | 'writes' | 'quota'
  tokenKind: ApiLogEntry['tokenKind']
  actor?: string
  method: string
  path: string
}

/** Every breach of /_sim/limits, counted, so a test can assert there were none. */
export interface Breaches {
  concurrent: number
  writes: number
  quota: number
  total: number
  /** The most recent ones, oldest first. */
  last: Breach[]
}

const BREACHES_KEPT = 50

/** A pending authorization of a legacy token for an SSO org, behind the X-GitHub-SSO url. */
export interface SsoRequest {
  userId: number
  orgId: number
  expiresAt: Date
}

export interface DeliveryRecord {
  id: string
  at: Date
  event: string
  action: string
  installationId: number
  url: string
  status: number | null
  error?: string
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** A GitHub-looking secret: prefix, underscore, 36 base62 characters. */
export function newToken(prefix: string): string {
  const bytes = randomBytes(36)
  let out = `${prefix}_`
  for (const b of bytes) out += BASE62[b % 62]
  return out
}

const RANK: Record<RepoPermission, number> = { none: 0, read: 1, write: 2, admin: 3 }

export function atLeast(have: RepoPermission, need: RepoPermission): boolean {
  return RANK[have] >= RANK[need]
}

function max(a: RepoPermission, b: RepoPermission): RepoPermission {
  return RANK[a] >= RANK[b] ? a : b
}

export class SimState {
  readonly app: World['app']
  /** The legacy OAuth App as the world describes it. */
  readonly legacyApp: World['legacy_oauth_app']
  readonly legacyClientId: string
  /** Kept for the grant-revocation endpoints (Basic credentials with the client id). */
  readonly legacyClientSecret: string | undefined
  readonly legacyHookUrl: string | undefined
  readonly users = new Map<number, User>()
  readonly orgs = new Map<number, Org>()
  readonly repos = new Map<number, Repo>()
  readonly installations = new Map<number, Installation>()
  readonly requests = new Map<number, InstallationRequest>()
  readonly tokens = new Map<string, Token>()
  readonly codes = new Map<string, OAuthCode>()
  readonly refreshTokens = new Map<string, RefreshToken>()
  /** User id -> client ids of the apps the user has authorized: GitHub asks only the first time. */
  readonly authorizations = new Map<number, Set<string>>()
  /** Whether PUT /user/installations/{id}/repositories/{repo} takes legacy OAuth tokens. */
  legacyTokensMayAddRepos = true
  faults: Faults = { latencyMs: 0, errors: [], installationTokenLag: false }
  limits: Limits = { hourlyQuota: 5000, concurrentPerToken: 100, writesPerMinute: 80 }
  readonly apiLog: ApiLogEntry[] = []
  readonly breaches: Breaches = { concurrent: 0, writes: 0, quota: 0, total: 0, last: [] }
  /** Opaque authorization_request value -> who may authorize which org, for an hour. */
  readonly ssoRequests = new Map<string, SsoRequest>()
  /** The API log keeps the most recent entries only: a long run must not grow without end. */
  apiLogLimit = 50_000
  readonly deliveries: DeliveryRecord[] = []
  /** Set by the server: sends each event to the app's webhook URL. */
  onEvent: (event: SimEvent) => void = () => {}
  /** The dice of the error-rate faults (0..1); a test may load them. */
  random: () => number = Math.random
  /** Bumped by every change to repositories or installations, so cached lists go stale. */
  revision = 0

  private readonly memo = new Map<string, { revision: number; value: unknown }>()

  private readonly byLogin = new Map<string, Account>()
  private readonly byFullName = new Map<string, Repo>()
  private readonly reposByOwner = new Map<number, Set<Repo>>()
  private readonly redirects = new Map<string, number>()
  private readonly installationByAccount = new Map<number, Installation>()
  private nextId: number

  constructor(world: World, now = new Date()) {
    this.app = world.app
    this.legacyApp = world.legacy_oauth_app
    this.legacyClientId = world.legacy_oauth_app.client_id
    this.legacyClientSecret = world.legacy_oauth_app.client_secret
    this.legacyHookUrl = world.legacy_oauth_app.hook_url
    let maxId = 0
    const seen = (id: number): void => {
      if (id > maxId) maxId = id
    }
    for (const u of world.users) {
      const user: User = {
        id: u.id,
        login: u.login,
        type: 'User',
        siteAdmin: u.site_admin ?? false,
        createdAt: now,
        legacyToken: u.legacy_token ?? null,
        legacyScopes: u.legacy_scopes ?? [],
        legacyTokenSsoOrgs: new Set(),
      }
      this.users.set(user.id, user)
      this.byLogin.set(user.login.toLowerCase(), user)
      if (user.legacyToken !== null) {
        this.tokens.set(user.legacyToken, { kind: 'legacy', userId: user.id, scopes: user.legacyScopes, clientId: this.legacyClientId })
      }
      seen(user.id)
    }
    for (const o of world.orgs ?? []) {
      const org: Org = {
        id: o.id,
        login: o.login,
        type: 'Organization',
        siteAdmin: false,
        createdAt: now,
        members: new Map(Object.entries(o.members).map(([login, role]) => [this.userByLogin(login)!.id, role])),
        defaultPermission: o.default_repository_permission ?? 'read',
        hooks: new Map(),
        samlSso: o.saml_sso ?? false,
      }
      for (const h of o.hooks ?? []) org.hooks.set(h.id, this.hookFrom(h, 'org', org.id, now))
      this.orgs.set(org.id, org)
      this.byLogin.set(org.login.toLowerCase(), org)
      seen(org.id)
    }
    for (const u of world.users) {
      for (const login of u.legacy_token_sso_orgs ?? []) this.users.get(u.id)!.legacyTokenSsoOrgs.add(this.accountByLogin(login)!.id)
    }
    for (const r of world.repos) {
      const owner = this.accountByLogin(r.owner)!
      const repo: Repo = {
        id: r.id,
        ownerId: owner.id,
        name: r.name,
        private: r.private ?? false,
        archived: r.archived ?? false,
        collaborators: new Map(Object.entries(r.collaborators ?? {}).map(([login, p]) => [this.userByLogin(login)!.id, p])),
        hooks: new Map(),
        formerNames: [],
        deleted: false,
        createdAt: now,
        updatedAt: now,
      }
      for (const h of r.hooks ?? []) {
        repo.hooks.set(h.id, this.hookFrom(h, 'repo', repo.id, now))
        seen(h.id)
      }
      this.repos.set(repo.id, repo)
      this.indexRepo(repo)
      seen(repo.id)
    }
    for (const i of world.installations ?? []) {
      const account = this.accountByLogin(i.account)!
      const installation: Installation = {
        id: i.id,
        accountId: account.id,
        repositorySelection: i.repository_selection,
        repositoryIds: new Set(i.repository_selection === 'selected' ? (i.repositories ?? []) : []),
        permissions: { ...world.app.permissions },
        events: [],
        suspendedAt: i.suspended ? now : null,
        suspendedBy: null,
        createdAt: now,
        updatedAt: now,
      }
      this.installations.set(installation.id, installation)
      this.installationByAccount.set(account.id, installation)
      seen(installation.id)
    }
    for (const o of world.orgs ?? []) for (const h of o.hooks ?? []) seen(h.id)
    this.nextId = maxId + 1
  }

  private hookFrom(h: WorldHook, kind: Hook['kind'], parentId: number, now: Date): Hook {
    return {
      id: h.id,
      kind,
      parentId,
      url: h.url,
      events: h.events ?? ['push'],
      active: h.active ?? true,
      createdBy: h.created_by ?? 'user',
      createdAt: now,
      updatedAt: now,
    }
  }

  /** A hook made now on a repository or an organization, as a world file's hook would be. */
  addHook(parent: { kind: Hook['kind']; id: number; hooks: Map<number, Hook> }, fields: Omit<WorldHook, 'id'>): Hook {
    const hook = this.hookFrom({ ...fields, id: this.newId() }, parent.kind, parent.id, new Date())
    parent.hooks.set(hook.id, hook)
    this.touch()
    return hook
  }

  /** Call after changing repositories, memberships or installations by hand: drops cached lists. */
  touch(): void {
    this.revision++
  }

  /** `compute()`'s value, computed again only after a change (see touch()). Callers must not mutate it. */
  memoized<T>(key: string, compute: () => T): T {
    const hit = this.memo.get(key)
    if (hit !== undefined && hit.revision === this.revision) return hit.value as T
    const value = compute()
    this.memo.set(key, { revision: this.revision, value })
    return value
  }

  /** A fresh id, above every id in the world. */
  newId(): number {
    return this.nextId++
  }

  recordApi(entry: ApiLogEntry): void {
    this.apiLog.push(entry)
    // Dropping a tenth at once keeps the cost of the shift rare.
    if (this.apiLog.length > this.apiLogLimit) this.apiLog.splice(0, Math.ceil(this.apiLogLimit / 10))
  }

  recordBreach(breach: Breach): void {
    this.breaches[breach.limit]++
    this.breaches.total++
    this.breaches.last.push(breach)
    if (this.breaches.last.length > BREACHES_KEPT) this.breaches.last.shift()
  }

  // Accounts

  /**
   * Gives a user or an organization a new login, as GitHub does: ids, memberships and
   * installations stay; the old login names nothing; the account's repositories answer their
   * old full names with a redirect.
   */
  renameAccount(account: User | Org, login: string): void {
    this.touch()
    const repos = this.reposOf(account.id)
    for (const repo of repos) this.unindexRepo(repo)
    this.byLogin.delete(account.login.toLowerCase())
    account.login = login
    this.byLogin.set(login.toLowerCase(), account)
    for (const repo of repos) {
      this.indexRepo(repo)
      this.redirects.delete(this.fullName(repo).toLowerCase())
    }
  }

  /** Whether SAML SSO keeps the user's legacy token out of the org: a member not authorized for it. */
  ssoBlocks(userId: number, orgId: number): boolean {
    const org = this.orgs.get(orgId)
    return org !== undefined && org.samlSso && org.members.has(userId) && !this.users.get(userId)!.legacyTokenSsoOrgs.has(orgId)
  }

  /** A fresh authorization_request for the X-GitHub-SSO url; GitHub's expire after an hour. */
  ssoRequest(userId: number, orgId: number, now = new Date()): string {
    for (const [key, pending] of this.ssoRequests) if (pending.expiresAt <= now) this.ssoRequests.delete(key)
    const key = randomBytes(20).toString('hex')
    this.ssoRequests.set(key, { userId, orgId, expiresAt: new Date(now.getTime() + 3600_000) })
    return key
  }

  authorizeSso(user: User, orgId: number): void {
    user.legacyTokenSsoOrgs.add(orgId)
    this.touch()
  }


  accountByLogin(login: string): User | Org | undefined {
    return this.byLogin.get(login.toLowerCase()) as User | Org | undefined
  }

  userByLogin(login: string): User | undefined {
    const account = this.accountByLogin(login)
    return account?.type === 'User' ? account : undefined
  }

  accountById(id: number): User | Org | undefined {
    return this.users.get(id) ?? this.orgs.get(id)
  }

  orgRole(userId: number, orgId: number): OrgRole | undefined {
    return this.orgs.get(orgId)?.members.get(userId)
  }

  /** Owner of a user account (the user) or of an organization (its admins). */
  isAccountOwner(userId: number, accountId: number): boolean {
    return userId === accountId || this.orgRole(userId, accountId) === 'admin'
  }

  orgsOf(userId: number): Org[] {
    return [...this.orgs.values()].filter((o) => o.members.has(userId))
  }

  // Repositories

  private indexRepo(repo: Repo): void {
    const owner = this.accountById(repo.ownerId)!
    this.byFullName.set(`${owner.login}/${repo.name}`.toLowerCase(), repo)
    let set = this.reposByOwner.get(repo.ownerId)
    if (set === undefined) this.reposByOwner.set(repo.ownerId, (set = new Set()))
    set.add(repo)
  }

  private unindexRepo(repo: Repo): void {
    const owner = this.accountById(repo.ownerId)!
    const fullName = `${owner.login}/${repo.name}`.toLowerCase()
    this.byFullName.delete(fullName)
    this.reposByOwner.get(repo.ownerId)?.delete(repo)
    repo.formerNames.push(fullName)
    this.redirects.set(fullName, repo.id)
  }

  fullName(repo: Repo): string {
    return `${this.accountById(repo.ownerId)!.login}/${repo.name}`
  }

  /** A live repository by its current name, or undefined. */
  repoByName(owner: string, name: string): Repo | undefined {
    return this.byFullName.get(`${owner}/${name}`.toLowerCase())
  }

  /** The repository now living where `owner/name` used to be (renamed or transferred). */
  redirectFor(owner: string, name: string): Repo | undefined {
    const id = this.redirects.get(`${owner}/${name}`.toLowerCase())
    const repo = id === undefined ? undefined : this.repos.get(id)
    return repo?.deleted ? undefined : repo
  }

  liveRepo(id: number): Repo | undefined {
    const repo = this.repos.get(id)
    return repo?.deleted ? undefined : repo
  }

  reposOf(accountId: number): Repo[] {
    return [...(this.reposByOwner.get(accountId) ?? [])]
  }

  /** The user's own permission on a repository, as GitHub computes it. */
  permission(userId: number, repo: Repo): RepoPermission {
    if (repo.deleted) return 'none'
    if (repo.ownerId === userId) return 'admin'
    let perm: RepoPermission = repo.collaborators.get(userId) ?? 'none'
    const role = this.orgRole(userId, repo.ownerId)
    if (role === 'admin') return 'admin'
    if (role === 'member') perm = max(perm, this.orgs.get(repo.ownerId)!.defaultPermission)
    if (!repo.private) perm = max(perm, 'read')
    return perm
  }

  canSee(userId: number, repo: Repo): boolean {
    return atLeast(this.permission(userId, repo), 'read')
  }

  /** Every live repository the user has a role on: owned, collaborator, or through an org. */
  affiliatedRepos(userId: number): Repo[] {
    // From the indexes, not a scan of every repository: the API asks this for many users.
    const candidates = new Set<Repo>(this.reposByOwner.get(userId))
    for (const org of this.orgsOf(userId)) for (const repo of this.reposByOwner.get(org.id) ?? []) candidates.add(repo)
    for (const repo of this.collaboratorIndex().get(userId) ?? []) candidates.add(repo)
    const out: { repo: Repo; key: string }[] = []
    for (const repo of candidates) {
      if (this.canSee(userId, repo)) out.push({ repo, key: this.fullName(repo).toLowerCase() })
    }
    // Full names are unique; comparing precomputed keys by code unit is ~20x faster than
    // localeCompare on names, which matters for users with tens of thousands of repositories.
    return out.sort((a, b) => (a.key < b.key ? -1 : 1)).map((entry) => entry.repo)
  }

  /** Collaborator's user id -> the repositories naming them, rebuilt after a change. */
  private collaboratorIndex(): Map<number, Repo[]> {
    return this.memoized('collaborator-index', () => {
      const index = new Map<number, Repo[]>()
      for (const repo of this.repos.values()) {
        for (const userId of repo.collaborators.keys()) {
          let list = index.get(userId)
          if (list === undefined) index.set(userId, (list = []))
          list.push(repo)
        }
      }
      return index
    })
  }

  renameRepo(repo: Repo, name: string, now = new Date()): void {
    this.touch()
    this.unindexRepo(repo)
    repo.name = name
    repo.updatedAt = now
    this.indexRepo(repo)
    this.redirects.delete(this.fullName(repo).toLowerCase())
  }

  transferRepo(repo: Repo, newOwnerId: number, now = new Date()): void {
    this.touch()
    this.unindexRepo(repo)
    // An installation on the old owner no longer covers it.
    this.installationByAccount.get(repo.ownerId)?.repositoryIds.delete(repo.id)
    repo.ownerId = newOwnerId
    repo.collaborators.delete(newOwnerId)
    repo.updatedAt = now
    this.indexRepo(repo)
    this.redirects.delete(this.fullName(repo).toLowerCase())
  }

  deleteRepo(repo: Repo): void {
    this.touch()
    this.unindexRepo(repo)
    repo.deleted = true
    for (const installation of this.installations.values()) installation.repositoryIds.delete(repo.id)
  }

  hookById(id: number): Hook | undefined {
    for (const repo of this.repos.values()) {
      const hook = repo.hooks.get(id)
      if (hook) return hook
    }
    for (const org of this.orgs.values()) {
      const hook = org.hooks.get(id)
      if (hook) return hook
    }
    return undefined
  }

  // Installations

  installationOn(accountId: number): Installation | undefined {
    return this.installationByAccount.get(accountId)
  }

  /** Repositories an installation covers now. */
  installationRepos(installation: Installation): Repo[] {
    if (installation.repositorySelection === 'all') return this.reposOf(installation.accountId)
    const out: Repo[] = []
    for (const id of installation.repositoryIds) {
      const repo = this.liveRepo(id)
      if (repo && repo.ownerId === installation.accountId) out.push(repo)
    }
    return out
  }

  covers(installation: Installation, repo: Repo): boolean {
    if (repo.deleted || repo.ownerId !== installation.accountId) return false
    return installation.repositorySelection === 'all' || installation.repositoryIds.has(repo.id)
  }

  /** Creates the installation on the account, or changes its repositories if there is one. */
  install(accountId: number, selection: 'all' | 'selected', repositoryIds: number[], now = new Date()): { installation: Installation; action: 'install' | 'update' } {
    this.touch()
    const existing = this.installationByAccount.get(accountId)
    if (existing) {
      existing.repositorySelection = selection
      existing.repositoryIds = new Set(selection === 'selected' ? repositoryIds : [])
      existing.updatedAt = now
      return { installation: existing, action: 'update' }
    }
    const installation: Installation = {
      id: this.newId(),
      accountId,
      repositorySelection: selection,
      repositoryIds: new Set(selection === 'selected' ? repositoryIds : []),
      permissions: { ...this.app.permissions },
      events: [],
      suspendedAt: null,
      suspendedBy: null,
      createdAt: now,
      updatedAt: now,
    }
    this.installations.set(installation.id, installation)
    this.installationByAccount.set(accountId, installation)
    return { installation, action: 'install' }
  }

  uninstall(installation: Installation): void {
    this.touch()
    this.installations.delete(installation.id)
    this.installationByAccount.delete(installation.accountId)
    for (const [token, info] of this.tokens) {
      if (info.kind === 'installation' && info.installationId === installation.id) this.tokens.delete(token)
    }
  }

  // Tokens

  issueUserToken(userId: number, now = new Date()): { token: string; refreshToken: string; expiresAt: Date; refreshExpiresAt: Date } {
    const token = newToken('ghu')
    const refreshToken = newToken('ghr')
    const expiresAt = new Date(now.getTime() + 8 * 3600_000)
    const refreshExpiresAt = new Date(now.getTime() + 184 * 24 * 3600_000)
    this.tokens.set(token, { kind: 'user', userId, expiresAt })
    this.refreshTokens.set(refreshToken, { userId, expiresAt: refreshExpiresAt })
    return { token, refreshToken, expiresAt, refreshExpiresAt }
  }

  /** Records that the user authorized the app with this client id. */
  authorize(userId: number, clientId: string): void {
    let clientIds = this.authorizations.get(userId)
    if (clientIds === undefined) this.authorizations.set(userId, (clientIds = new Set()))
    clientIds.add(clientId)
  }

  hasAuthorized(userId: number, clientId: string): boolean {
    return this.authorizations.get(userId)?.has(clientId) ?? false
  }

  revokeLegacyToken(user: User): void {
    if (user.legacyToken !== null) this.tokens.delete(user.legacyToken)
    user.legacyToken = null
  }
}
