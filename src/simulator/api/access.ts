import type { Auth } from '../auth.js'
import { atLeast, type Installation, type Org, type Repo, type RepoPermission, type SimState, type User } from '../state.js'
import type { Permission } from '../world.js'
import { notAccessibleByIntegration, notFound, requiresAuthentication } from './errors.js'

// What each kind of credential may see and do, as GitHub decides it: a legacy OAuth token acts
// as its user within its scopes; a GitHub App user token (ghu_) sees only what both the user
// and the app's installations can; an installation token (ghs_) sees its installation's
// repositories (and public ones) within the app's permissions.

/** A credential on an endpoint that takes no JWT (the API's hook refuses the JWT there). */
export type ApiAuth = Exclude<Auth, { kind: 'jwt' }>
export type UserAuth = Extract<Auth, { kind: 'legacy' | 'user' }>
export type AppAuth = Extract<Auth, { kind: 'user' | 'installation' }>
export type InstallationAuth = Extract<Auth, { kind: 'installation' }>

/** The installation of the app covering the repository, unless there is none or it is suspended. */
export function activeInstallationFor(state: SimState, repo: Repo): Installation | undefined {
  const installation = state.installationOn(repo.ownerId)
  return installation !== undefined && installation.suspendedAt === null && state.covers(installation, repo) ? installation : undefined
}

export function tokenCovers(state: SimState, auth: InstallationAuth, repo: Repo): boolean {
  return state.covers(auth.installation, repo) && (auth.grant.repositoryIds?.has(repo.id) ?? true)
}

export function hasScope(auth: Extract<Auth, { kind: 'legacy' }>, ...scopes: string[]): boolean {
  return scopes.some((scope) => auth.scopes.includes(scope))
}

/** The caller's permission on a live repository; 'none' means it may not even see it. */
export function callerPermission(state: SimState, auth: ApiAuth, repo: Repo): RepoPermission {
  const publicRead: RepoPermission = repo.private ? 'none' : 'read'
  switch (auth.kind) {
    case 'legacy': {
      if (repo.private && !hasScope(auth, 'repo')) return 'none'
      return state.permission(auth.user.id, repo)
    }
    case 'user': {
      const permission = state.permission(auth.user.id, repo)
      if (permission === 'none' || activeInstallationFor(state, repo) !== undefined) return permission
      return publicRead
    }
    case 'installation': {
      if (!tokenCovers(state, auth, repo)) return publicRead
      return atLeast(auth.grant.permissions['contents'] ?? 'none', 'write') ? 'write' : 'read'
    }
    case 'none':
      return publicRead
  }
}

/** The caller as a user; an installation token gets GitHub's 403, no credential a 401. */
export function asUser(auth: ApiAuth): UserAuth {
  if (auth.kind === 'legacy' || auth.kind === 'user') return auth
  if (auth.kind === 'none') throw requiresAuthentication()
  throw notAccessibleByIntegration()
}

/** The app's permission behind an app credential, for a resource of `account`. */
function appPermission(state: SimState, auth: AppAuth, accountId: number, name: string): Permission | undefined {
  if (auth.kind === 'installation') return auth.grant.permissions[name]
  const installation = state.installationOn(accountId)
  return installation === undefined || installation.suspendedAt !== null ? undefined : installation.permissions[name]
}

/** Throws GitHub's 403 unless the app credential holds `name` at `level`. */
export function requireAppPermission(
  state: SimState,
  auth: AppAuth,
  accountId: number,
  name: string,
  level: Permission,
): void {
  if (!atLeast(appPermission(state, auth, accountId, name) ?? 'none', level)) throw notAccessibleByIntegration()
}

/**
 * Checks that the caller may read (or, with `write`, delete) the hooks of a repository it can
 * see: repository admins only; app credentials need the `repository_hooks` permission on a
 * repository they cover. A legacy token's hook scopes are checked before (scopes.ts).
 */
export function requireRepoHookAccess(state: SimState, auth: ApiAuth, repo: Repo, write: boolean): void {
  if (auth.kind === 'none') throw requiresAuthentication()
  const permission = callerPermission(state, auth, repo)
  // The hook scopes a legacy token needs are checked by the API's request hook (scopes.ts).
  if (auth.kind === 'legacy') {
    if (permission !== 'admin') throw notFound()
    return
  }
  if (auth.kind === 'user' && activeInstallationFor(state, repo) === undefined) throw notAccessibleByIntegration()
  if (auth.kind === 'installation' && !tokenCovers(state, auth, repo)) throw notAccessibleByIntegration()
  requireAppPermission(state, auth, repo.ownerId, 'repository_hooks', write ? 'write' : 'read')
  if (auth.kind === 'user' && permission !== 'admin') throw notFound()
}

/**
 * Checks that the caller may read (or delete) an organization's hooks: owners only; OAuth
 * tokens' scopes are the request hook's; app credentials the `organization_hooks` permission.
 */
export function requireOrgHookAccess(state: SimState, auth: ApiAuth, org: Org, write: boolean): void {
  if (auth.kind === 'none') throw requiresAuthentication()
  const role = auth.kind === 'installation' ? undefined : state.orgRole(auth.user.id, org.id)
  if (auth.kind !== 'installation' && role === undefined) throw notFound()
  // admin:org_hook, for a legacy token, is checked by the API's request hook (scopes.ts).
  if (auth.kind !== 'legacy') {
    if (auth.kind === 'installation' && auth.installation.accountId !== org.id) throw notAccessibleByIntegration()
    requireAppPermission(state, auth, org.id, 'organization_hooks', write ? 'write' : 'read')
  }
  if (auth.kind !== 'installation' && role !== 'admin') throw notFound()
}

/**
 * Whether a hook shows to the caller: GitHub shows an organization hook created by an OAuth App
 * only to that app's tokens, and hides it from everyone else.
 */
export function orgHookVisible(auth: ApiAuth, createdBy: string): boolean {
  if (auth.kind === 'legacy') return createdBy === auth.clientId
  return createdBy === 'user'
}

/**
 * Whether the user may see an installation, GitHub's rule for GET /user/installations: their own
 * account, an organization they own, or one where they have explicit access (as a member with a
 * base permission, or as a collaborator) to a repository it covers.
 */
export function userCanAccessInstallation(state: SimState, user: User, installation: Installation): boolean {
  if (state.isAccountOwner(user.id, installation.accountId)) return true
  const org = state.orgs.get(installation.accountId)
  if (org?.members.has(user.id) && org.defaultPermission !== 'none') return true
  return sortedInstallationRepos(state, installation).some((repo) => repo.collaborators.has(user.id))
}

/** An installation's repositories, ordered by id, cached until repositories or installations change. */
export function sortedInstallationRepos(state: SimState, installation: Installation): Repo[] {
  const key = `installation-repos:${installation.id}:${installation.repositorySelection}:${installation.repositoryIds.size}`
  return state.memoized(key, () => state.installationRepos(installation).sort((a, b) => a.id - b.id))
}

/** Installation ids and whether each is suspended: what decides a ghu_ token's reach. */
function installationsSignature(state: SimState): string {
  let out = ''
  for (const installation of state.installations.values()) out += `${installation.id}${installation.suspendedAt === null ? '' : 's'},`
  return out
}

export interface RepoListOptions {
  affiliation: Set<'owner' | 'collaborator' | 'organization_member'>
  visibility: 'all' | 'public' | 'private'
  sort: 'full_name' | 'created' | 'updated' | 'pushed'
  direction: 'asc' | 'desc'
}

/** GET /user/repos: the repositories the user has a role on, as far as the credential reaches. */
export function userRepos(state: SimState, auth: UserAuth, options: RepoListOptions): { repo: Repo; permission: RepoPermission }[] {
  const userId = auth.user.id
  const reach = auth.kind === 'legacy' ? `legacy:${hasScope(auth, 'repo')}:${[...auth.user.legacyTokenSsoOrgs].join(',')}` : `user:${installationsSignature(state)}`
  const key = `user-repos:${userId}:${reach}:${[...options.affiliation].sort().join(',')}:${options.visibility}:${options.sort}:${options.direction}`
  return state.memoized(key, () => {
    const out: { repo: Repo; permission: RepoPermission }[] = []
    // affiliatedRepos is ordered by full name already.
    for (const repo of state.affiliatedRepos(userId)) {
      if (options.visibility !== 'all' && (options.visibility === 'private') !== repo.private) continue
      const owner = repo.ownerId === userId
      const collaborator = repo.collaborators.has(userId)
      const member = state.orgRole(userId, repo.ownerId) !== undefined
      const affiliated =
        (owner && options.affiliation.has('owner')) ||
        (collaborator && options.affiliation.has('collaborator')) ||
        (member && options.affiliation.has('organization_member'))
      if (!affiliated) continue
      if (auth.kind === 'user' && activeInstallationFor(state, repo) === undefined) continue
      if (auth.kind === 'legacy' && state.ssoBlocks(userId, repo.ownerId)) continue
      const permission = callerPermission(state, auth, repo)
      if (permission === 'none') continue
      out.push({ repo, permission })
    }
    const sign = options.direction === 'asc' ? 1 : -1
    if (options.sort === 'full_name') return sign === 1 ? out : out.reverse()
    const time = (repo: Repo) => (options.sort === 'created' ? repo.createdAt : repo.updatedAt).getTime()
    return out.sort((a, b) => sign * (time(a.repo) - time(b.repo) || a.repo.id - b.repo.id))
  })
}
