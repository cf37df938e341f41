import { ApiError } from './errors.js'

// The OAuth scopes each endpoint the service calls takes from a legacy (OAuth App) token, in one
// table: what GitHub's REST reference and its scopes page state, and where they are silent the
// stricter reading (the README's scope table says which rows are which). The API's request hook
// reads it for every legacy token: it sends X-Accepted-OAuth-Scopes and refuses a token that
// holds none of the accepted scopes.

const DOCS = 'https://docs.github.com'
export const SCOPES_PAGE = `${DOCS}/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps`

/** Scopes that grant others: repo grants repo:status..., admin:org grants write:org, and so on. */
const IMPLIES: Record<string, string[]> = {
  repo: ['repo:status', 'repo_deployment', 'public_repo', 'repo:invite', 'security_events'],
  'admin:org': ['write:org'],
  'write:org': ['read:org'],
  'admin:public_key': ['write:public_key'],
  'write:public_key': ['read:public_key'],
  'admin:repo_hook': ['write:repo_hook'],
  'write:repo_hook': ['read:repo_hook'],
  user: ['read:user', 'user:email', 'user:follow'],
  'admin:gpg_key': ['write:gpg_key'],
  'write:gpg_key': ['read:gpg_key'],
  'write:packages': ['read:packages'],
  'admin:enterprise': ['manage_runners:enterprise', 'manage_billing:enterprise', 'read:enterprise'],
}

/** Every scope a token holding `scopes` has, the implied ones included. */
export function grantedScopes(scopes: readonly string[]): Set<string> {
  const out = new Set<string>()
  const add = (scope: string): void => {
    if (out.has(scope)) return
    out.add(scope)
    for (const implied of IMPLIES[scope] ?? []) add(implied)
  }
  scopes.forEach(add)
  return out
}

/** The scopes that grant any of `scopes`: what X-Accepted-OAuth-Scopes lists, sorted. */
function acceptedBy(scopes: readonly string[]): string[] {
  return Object.keys(IMPLIES)
    .filter((parent) => scopes.some((scope) => grantedScopes([parent]).has(scope)))
    .concat(scopes)
    .filter((scope, i, all) => all.indexOf(scope) === i)
    .sort()
}

export interface ScopeRule {
  /** The scopes named by GitHub (their parents are accepted too). Empty: none needed. */
  scopes: string[]
  /** GitHub's answer to a token with none of them; absent: the endpoint answers, as `note` says. */
  refusal?: { status: 403 | 404; message: string }
  /** What the scope changes besides, for the README. */
  note?: string
  /** Whether GitHub's documentation states the rule (false: the stricter reading, said so). */
  documented: boolean
  reference: string
}

const NOT_FOUND = { status: 404, message: 'Not Found' } as const
const PRIVATE_REPOS = 'private repositories only with `repo`; without it they answer 404 / are left out'
const repoHookRead: ScopeRule = { scopes: ['read:repo_hook', 'repo'], refusal: NOT_FOUND, documented: true, reference: SCOPES_PAGE }
const repoHookDelete: ScopeRule = { scopes: ['admin:repo_hook', 'repo'], refusal: NOT_FOUND, documented: true, reference: SCOPES_PAGE }
const orgHook: ScopeRule = { scopes: ['admin:org_hook'], refusal: NOT_FOUND, documented: true, reference: `${DOCS}/rest/orgs/webhooks#get-an-organization-webhook` }
// `repo` is what GitHub checks for a private repository; a public one answers without it.
const getRepo: ScopeRule = { scopes: ['repo'], note: PRIVATE_REPOS, documented: true, reference: `${DOCS}/rest/repos/repos#get-a-repository` }
const installationRepo: ScopeRule = {
  scopes: ['repo'],
  refusal: NOT_FOUND,
  documented: true,
  reference: `${DOCS}/rest/apps/installations#add-a-repository-to-an-app-installation`,
}

/** Keyed by method and route as the API registers it (/api/v3 left out). */
export const SCOPE_RULES: Record<string, ScopeRule> = {
  'GET /user': { scopes: [], note: 'private profile fields only with `user`; without it the public-user shape', documented: true, reference: `${DOCS}/rest/users/users#get-the-authenticated-user` },
  'GET /user/repos': { scopes: [], note: PRIVATE_REPOS, documented: true, reference: `${DOCS}/rest/repos/repos#list-repositories-for-the-authenticated-user` },
  'GET /user/orgs': {
    scopes: ['read:org', 'user'],
    refusal: { status: 403, message: 'You need at least read:org scope or user scope to list your organizations.' },
    documented: true,
    reference: `${DOCS}/rest/orgs/orgs#list-organizations-for-the-authenticated-user`,
  },
  'GET /user/memberships/orgs/:org': {
    scopes: ['read:org'],
    refusal: { status: 403, message: 'You do not have access to this organization membership.' },
    documented: false,
    reference: `${DOCS}/rest/orgs/members#get-an-organization-membership-for-the-authenticated-user`,
  },
  'GET /repos/:owner/:repo': getRepo,
  'GET /repositories/:repository_id': getRepo,
  'GET /orgs/:org/members': { scopes: ['read:org'], refusal: NOT_FOUND, documented: false, reference: `${DOCS}/rest/orgs/members#list-organization-members` },
  'PUT /user/installations/:installation_id/repositories/:repository_id': installationRepo,
  'DELETE /user/installations/:installation_id/repositories/:repository_id': {
    ...installationRepo,
    reference: `${DOCS}/rest/apps/installations#remove-a-repository-from-an-app-installation`,
  },
  'GET /repos/:owner/:repo/hooks': repoHookRead,
  'GET /repositories/:repository_id/hooks': repoHookRead,
  'GET /repos/:owner/:repo/hooks/:hook_id': repoHookRead,
  'GET /repositories/:repository_id/hooks/:hook_id': repoHookRead,
  'DELETE /repos/:owner/:repo/hooks/:hook_id': repoHookDelete,
  'DELETE /repositories/:repository_id/hooks/:hook_id': repoHookDelete,
  'GET /orgs/:org/hooks': orgHook,
  'GET /orgs/:org/hooks/:hook_id': orgHook,
  'DELETE /orgs/:org/hooks/:hook_id': orgHook,
}

/** X-Accepted-OAuth-Scopes of a route: its scopes and every scope implying one; empty when none. */
export function acceptedHeader(method: string, route: string): string {
  return acceptedBy(SCOPE_RULES[`${method} ${route}`]?.scopes ?? []).join(', ')
}

/** Throws GitHub's refusal when a legacy token holds none of the route's scopes. */
export function requireRouteScopes(scopes: readonly string[], method: string, route: string): void {
  const rule = SCOPE_RULES[`${method} ${route}`]
  if (rule?.refusal === undefined) return
  const granted = grantedScopes(scopes)
  if (!rule.scopes.some((scope) => granted.has(scope))) throw new ApiError(rule.refusal.status, rule.refusal.message, {}, rule.reference)
}
