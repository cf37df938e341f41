import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Auth } from '../auth.js'
import type { Org, SimState } from '../state.js'
import { originOf } from './context.js'
import { ApiError } from './errors.js'

// SAML single sign-on as GitHub enforces it on OAuth App tokens: an org that enforces it
// refuses a member's legacy token until the user authorizes that token for the org, naming in
// X-GitHub-SSO the page where they do; lists leave the org's resources out and say so. GitHub
// App installation tokens, the App's JWT and its user tokens are not affected.

export const SSO_MESSAGE = 'Resource protected by organization SAML enforcement. You must grant your OAuth token access to this organization.'
export const SSO_DOCS = 'https://docs.github.com/rest/authentication/authenticating-to-the-rest-api#personal-access-tokens-classic'

/** The page a user visits to authorize their legacy token for the org. */
export function ssoUrl(request: FastifyRequest, state: SimState, userId: number, org: Org): string {
  return `${originOf(request).web}/orgs/${encodeURIComponent(org.login)}/sso?authorization_request=${state.ssoRequest(userId, org.id)}`
}

/** Throws GitHub's 403 when SSO keeps the caller's legacy token out of the account `accountId`. */
export function requireSso(request: FastifyRequest, state: SimState, auth: Auth | null, accountId: number): void {
  if (auth?.kind !== 'legacy' || !state.ssoBlocks(auth.user.id, accountId)) return
  const url = ssoUrl(request, state, auth.user.id, state.orgs.get(accountId)!)
  throw new ApiError(403, SSO_MESSAGE, { 'x-github-sso': `required; url=${url}` }, SSO_DOCS)
}

/** The orgs whose resources a list leaves out for the caller's legacy token (empty for any other credential). */
export function ssoHiddenOrgs(state: SimState, auth: Auth): Set<number> {
  if (auth.kind !== 'legacy') return new Set()
  const userId = auth.user.id
  // Asked on every page of GET /user/repos: cached until memberships or authorizations change.
  return state.memoized(`sso-hidden:${userId}`, () => new Set(state.orgsOf(userId).filter((org) => state.ssoBlocks(userId, org.id)).map((org) => org.id)))
}

/** X-GitHub-SSO: partial-results, when a list left out some orgs' resources. */
export function markPartialResults(reply: FastifyReply, hidden: Set<number>): void {
  if (hidden.size > 0) reply.header('x-github-sso', `partial-results; organizations=${[...hidden].sort((a, b) => a - b).join(',')}`)
}
