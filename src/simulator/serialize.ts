import type { Account, Hook, Installation, Org, Repo, RepoPermission, SimState, User } from './state.js'

// GitHub's JSON shapes, as its OpenAPI description gives them (simple-user, repository,
// full-repository, hook, org-hook, installation, integration...), with every required field.
// URLs point at the simulator itself, laid out like GitHub Enterprise Server.

export interface Origin {
  /** e.g. http://127.0.0.1:PORT/api/v3 */
  api: string
  /** e.g. http://127.0.0.1:PORT */
  web: string
  /** e.g. 127.0.0.1:PORT, for git and ssh URLs */
  host: string
}

/** GitHub's legacy global node id: base64 of "0<length>:<Type><id>". */
export function nodeId(type: string, id: number): string {
  return Buffer.from(`0${type.length}:${type}${id}`).toString('base64')
}

/** GitHub's timestamps carry no milliseconds. */
export function isoDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function simpleUser(o: Origin, account: Account) {
  const users = `${o.api}/users/${account.login}`
  const own = account.type === 'Organization' ? `${o.api}/orgs/${account.login}` : users
  return {
    login: account.login,
    id: account.id,
    node_id: nodeId(account.type, account.id),
    avatar_url: `${o.web}/avatars/u/${account.id}?v=4`,
    gravatar_id: '',
    url: own,
    html_url: `${o.web}/${account.login}`,
    followers_url: `${users}/followers`,
    following_url: `${users}/following{/other_user}`,
    gists_url: `${users}/gists{/gist_id}`,
    starred_url: `${users}/starred{/owner}{/repo}`,
    subscriptions_url: `${users}/subscriptions`,
    organizations_url: `${users}/orgs`,
    repos_url: `${own}/repos`,
    events_url: account.type === 'Organization' ? `${own}/events` : `${users}/events{/privacy}`,
    received_events_url: `${users}/received_events`,
    type: account.type,
    user_view_type: 'public',
    site_admin: account.siteAdmin,
  }
}

/** GET /user: the private view of the signed-in user. */
export function privateUser(o: Origin, state: SimState, user: User) {
  const repos = state.reposOf(user.id)
  const privateRepos = repos.filter((r) => r.private).length
  return {
    ...simpleUser(o, user),
    user_view_type: 'private',
    name: null,
    company: null,
    blog: '',
    location: null,
    email: null,
    notification_email: null,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: repos.length - privateRepos,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: isoDate(user.createdAt),
    updated_at: isoDate(user.createdAt),
    private_gists: 0,
    total_private_repos: privateRepos,
    owned_private_repos: privateRepos,
    disk_usage: 0,
    collaborators: 0,
    two_factor_authentication: true,
  }
}

/** GET /user for a token without the `user` scope: GitHub's public-user, no private profile fields. */
export function publicUser(o: Origin, state: SimState, user: User) {
  const { private_gists, total_private_repos, owned_private_repos, disk_usage, collaborators, two_factor_authentication, ...rest } = privateUser(o, state, user)
  return { ...rest, user_view_type: 'public' }
}

export function organizationSimple(o: Origin, org: Org) {
  const url = `${o.api}/orgs/${org.login}`
  return {
    login: org.login,
    id: org.id,
    node_id: nodeId('Organization', org.id),
    url,
    repos_url: `${url}/repos`,
    events_url: `${url}/events`,
    hooks_url: `${url}/hooks`,
    issues_url: `${url}/issues`,
    members_url: `${url}/members{/member}`,
    public_members_url: `${url}/public_members{/member}`,
    avatar_url: `${o.web}/avatars/u/${org.id}?v=4`,
    description: null,
  }
}

const RANK: Record<RepoPermission, number> = { none: 0, read: 1, write: 2, admin: 3 }

/** The `permissions` object of a repository, from the caller's permission on it. */
export function repoPermissions(permission: RepoPermission) {
  const rank = RANK[permission]
  return { admin: rank >= 3, maintain: rank >= 3, push: rank >= 2, triage: rank >= 2, pull: rank >= 1 }
}

/** The `repository` schema (lists); `permission` adds the caller's `permissions`. */
export function repository(o: Origin, state: SimState, repo: Repo, permission?: RepoPermission) {
  const owner = state.accountById(repo.ownerId)!
  const fullName = `${owner.login}/${repo.name}`
  const url = `${o.api}/repos/${fullName}`
  const host = o.host
  const created = isoDate(repo.createdAt)
  const updated = isoDate(repo.updatedAt)
  return {
    id: repo.id,
    node_id: nodeId('Repository', repo.id),
    name: repo.name,
    full_name: fullName,
    private: repo.private,
    owner: simpleUser(o, owner),
    html_url: `${o.web}/${fullName}`,
    description: null,
    fork: false,
    url,
    archive_url: `${url}/{archive_format}{/ref}`,
    assignees_url: `${url}/assignees{/user}`,
    blobs_url: `${url}/git/blobs{/sha}`,
    branches_url: `${url}/branches{/branch}`,
    collaborators_url: `${url}/collaborators{/collaborator}`,
    comments_url: `${url}/comments{/number}`,
    commits_url: `${url}/commits{/sha}`,
    compare_url: `${url}/compare/{base}...{head}`,
    contents_url: `${url}/contents/{+path}`,
    contributors_url: `${url}/contributors`,
    deployments_url: `${url}/deployments`,
    downloads_url: `${url}/downloads`,
    events_url: `${url}/events`,
    forks_url: `${url}/forks`,
    git_commits_url: `${url}/git/commits{/sha}`,
    git_refs_url: `${url}/git/refs{/sha}`,
    git_tags_url: `${url}/git/tags{/sha}`,
    git_url: `git://${host}/${fullName}.git`,
    issue_comment_url: `${url}/issues/comments{/number}`,
    issue_events_url: `${url}/issues/events{/number}`,
    issues_url: `${url}/issues{/number}`,
    keys_url: `${url}/keys{/key_id}`,
    labels_url: `${url}/labels{/name}`,
    languages_url: `${url}/languages`,
    merges_url: `${url}/merges`,
    milestones_url: `${url}/milestones{/number}`,
    notifications_url: `${url}/notifications{?since,all,participating}`,
    pulls_url: `${url}/pulls{/number}`,
    releases_url: `${url}/releases{/id}`,
    ssh_url: `git@${host}:${fullName}.git`,
    stargazers_url: `${url}/stargazers`,
    statuses_url: `${url}/statuses/{sha}`,
    subscribers_url: `${url}/subscribers`,
    subscription_url: `${url}/subscription`,
    tags_url: `${url}/tags`,
    teams_url: `${url}/teams`,
    trees_url: `${url}/git/trees{/sha}`,
    clone_url: `${o.web}/${fullName}.git`,
    mirror_url: null,
    hooks_url: `${url}/hooks`,
    svn_url: `${o.web}/${fullName}`,
    homepage: null,
    language: null,
    forks_count: 0,
    stargazers_count: 0,
    watchers_count: 0,
    size: 0,
    default_branch: 'main',
    open_issues_count: 0,
    is_template: false,
    topics: [] as string[],
    has_issues: true,
    has_projects: true,
    has_wiki: true,
    has_pages: false,
    has_downloads: true,
    has_discussions: false,
    archived: repo.archived,
    disabled: false,
    visibility: repo.private ? 'private' : 'public',
    pushed_at: updated,
    created_at: created,
    updated_at: updated,
    ...(permission === undefined ? {} : { permissions: repoPermissions(permission) }),
    allow_forking: true,
    web_commit_signoff_required: false,
    license: null,
    forks: 0,
    open_issues: 0,
    watchers: 0,
  }
}

/** What fastify sends an object as, for an answer built as JSON text. */
export const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * Repository objects as a JSON array, between `before` and `after` (an object's other fields),
 * as bytes ready to send. Each repository is kept as bytes until the world next changes
 * (SimState.touch): one is about 5 KB and a page holds up to 100, so building, serializing and
 * encoding them again for every page was most of the simulator's work for the lists the
 * service reads.
 */
export function repositoriesJson(o: Origin, state: SimState, items: readonly { repo: Repo; permission: RepoPermission }[], before = '', after = ''): Buffer {
  const caches = new Map<string, Map<number, Buffer>>()
  const parts: Buffer[] = [Buffer.from(`${before}[`)]
  for (const { repo, permission } of items) {
    if (parts.length > 1) parts.push(COMMA)
    let cache = caches.get(permission)
    if (cache === undefined) {
      cache = state.memoized(`repository-json:${o.web} ${o.api} ${o.host}:${permission}`, () => new Map<number, Buffer>())
      caches.set(permission, cache)
    }
    let json = cache.get(repo.id)
    if (json === undefined) {
      json = Buffer.from(JSON.stringify(repository(o, state, repo, permission)))
      cache.set(repo.id, json)
    }
    parts.push(json)
  }
  parts.push(Buffer.from(`]${after}`))
  return Buffer.concat(parts)
}

const COMMA = Buffer.from(',')

/** The `full-repository` schema (GET /repos/{owner}/{repo}). */
export function fullRepository(o: Origin, state: SimState, repo: Repo, permission?: RepoPermission) {
  const base = repository(o, state, repo, permission)
  const owner = state.accountById(repo.ownerId)!
  return {
    ...base,
    temp_clone_token: null,
    ...(owner.type === 'Organization' ? { organization: simpleUser(o, owner) } : {}),
    network_count: 0,
    subscribers_count: 0,
  }
}

function hookConfig(hook: Hook) {
  return { url: hook.url, content_type: 'json', insecure_ssl: '0' }
}

/** The `hook` schema: a repository's webhook. */
export function repoHook(o: Origin, state: SimState, repo: Repo, hook: Hook) {
  const url = `${o.api}/repos/${state.fullName(repo)}/hooks/${hook.id}`
  return {
    type: 'Repository',
    id: hook.id,
    name: 'web',
    active: hook.active,
    events: hook.events,
    config: hookConfig(hook),
    updated_at: isoDate(hook.updatedAt),
    created_at: isoDate(hook.createdAt),
    url,
    test_url: `${url}/test`,
    ping_url: `${url}/pings`,
    deliveries_url: `${url}/deliveries`,
    last_response: { code: null, status: 'unused', message: null },
  }
}

/** The `org-hook` schema: an organization's webhook. */
export function orgHook(o: Origin, org: Org, hook: Hook) {
  const url = `${o.api}/orgs/${org.login}/hooks/${hook.id}`
  return {
    id: hook.id,
    url,
    ping_url: `${url}/pings`,
    deliveries_url: `${url}/deliveries`,
    name: 'web',
    events: hook.events,
    active: hook.active,
    config: hookConfig(hook),
    updated_at: isoDate(hook.updatedAt),
    created_at: isoDate(hook.createdAt),
    type: 'Organization',
  }
}

export function installation(o: Origin, state: SimState, inst: Installation) {
  const account = state.accountById(inst.accountId)!
  const suspendedBy = inst.suspendedBy === null ? undefined : state.accountById(inst.suspendedBy)
  return {
    id: inst.id,
    account: simpleUser(o, account),
    repository_selection: inst.repositorySelection,
    access_tokens_url: `${o.api}/app/installations/${inst.id}/access_tokens`,
    repositories_url: `${o.api}/installation/repositories`,
    html_url:
      account.type === 'Organization'
        ? `${o.web}/organizations/${account.login}/settings/installations/${inst.id}`
        : `${o.web}/settings/installations/${inst.id}`,
    app_id: state.app.id,
    app_slug: state.app.slug,
    client_id: state.app.client_id,
    target_id: account.id,
    target_type: account.type,
    permissions: inst.permissions,
    events: inst.events,
    created_at: isoDate(inst.createdAt),
    updated_at: isoDate(inst.updatedAt),
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [] as string[],
    suspended_by: suspendedBy === undefined ? null : simpleUser(o, suspendedBy),
    suspended_at: inst.suspendedAt === null ? null : isoDate(inst.suspendedAt),
  }
}

/**
 * The `integration` schema (GET /app). The world names no owner, so the app is shown as owned by
 * an organization named after it, the vendor.
 */
export function integration(o: Origin, state: SimState, createdAt: Date) {
  const owner: Account = { id: state.app.id, login: state.app.slug, type: 'Organization', siteAdmin: false, createdAt }
  return {
    id: state.app.id,
    slug: state.app.slug,
    node_id: nodeId('App', state.app.id),
    client_id: state.app.client_id,
    owner: simpleUser(o, owner),
    name: state.app.name ?? state.app.slug,
    description: null,
    external_url: state.app.setup_url === undefined ? o.web : new URL(state.app.setup_url).origin,
    html_url: `${o.web}/apps/${state.app.slug}`,
    created_at: isoDate(createdAt),
    updated_at: isoDate(createdAt),
    permissions: state.app.permissions,
    events: [] as string[],
    installations_count: state.installations.size,
  }
}
