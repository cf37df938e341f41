// Why GitHub refused a request made with one user's legacy OAuth token, read from what GitHub
// answers: the status, the X-GitHub-SSO header (SAML single sign-on), and X-OAuth-Scopes against
// X-Accepted-OAuth-Scopes (a scope the old authorization was never granted). A fault is about
// that token and what it was asked: callers record it and go on with everything else.

export type TokenFault =
  /** GitHub no longer takes the token: the user revoked the old app, or GitHub did. */
  | { kind: 'revoked' }
  /** An organization enforces SAML single sign-on and the token is not authorized for it. */
  | { kind: 'sso'; url: string | undefined }
  /** The token lacks a scope the endpoint needs; `needs` are the scopes GitHub would take. */
  | { kind: 'scope'; needs: string[] }
  /** GitHub refused for another reason (a permission, a policy). */
  | { kind: 'forbidden'; message: string }
  /** Not there, or out of this token's sight. */
  | { kind: 'not_found' }
  /** GitHub did not answer usefully: a 5xx, a network error, a rate limit. Worth trying later. */
  | { kind: 'unavailable'; status: number | undefined }

/**
 * The status of GitHub's answer in `error`; anything else (a defect, which must not pass for an
 * outage) is thrown on.
 */
export function githubStatus(error: unknown): number {
  const status = (error as { status?: unknown }).status
  if (typeof status !== 'number') throw error
  return status
}

/** A fault that leaves the token working, about one thing it could not see. */
export type UnseenFault = Exclude<TokenFault, { kind: 'revoked' | 'not_found' }>

interface ErrorLike {
  status?: number
  /** octokit's errors always have one. */
  message: string
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown }
}

function header(error: ErrorLike, name: string): string | undefined {
  const value = error.response?.headers?.[name]
  return value === undefined ? undefined : String(value)
}

/** Scopes as GitHub lists them in a header ("repo, admin:repo_hook"); empty for none. */
export function scopeList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/** The authorization URL of `X-GitHub-SSO: required; url=…`; undefined when GitHub names none. */
export function ssoUrl(value: string | undefined): string | undefined {
  const url = /(?:^|;)\s*url=(\S+)/.exec(value ?? '')?.[1]
  // It becomes a link on a page: a web address, nothing else.
  return url !== undefined && /^https?:\/\//.test(url) ? url : undefined
}

/** Organization ids of `X-GitHub-SSO: partial-results; organizations=1,2`: left out of a list. */
export function ssoPartialOrgs(value: string | number | undefined): number[] {
  const list = /partial-results;\s*organizations=([\d,\s]+)/.exec(String(value ?? ''))?.[1]
  return scopeList(list).map(Number).filter(Number.isSafeInteger)
}

/** GitHub's message without the documentation link octokit appends. */
function said(error: ErrorLike): string {
  return error.message.replace(/ - https?:\/\/\S+$/, '')
}

export function tokenFault(error: unknown): TokenFault {
  const e = error as ErrorLike
  const status = e.status
  if (status === 401) return { kind: 'revoked' }
  const sso = header(e, 'x-github-sso')
  if (status === 403 && sso !== undefined && /required/.test(sso)) return { kind: 'sso', url: ssoUrl(sso) }
  if (status === 403 || status === 404) {
    // GitHub names the scopes it would take; a token holding none of them is missing a scope.
    const accepted = scopeList(header(e, 'x-accepted-oauth-scopes'))
    const granted = header(e, 'x-oauth-scopes')
    if (accepted.length > 0 && granted !== undefined && !accepted.some((s) => scopeList(granted).includes(s))) return { kind: 'scope', needs: accepted }
  }
  if (status === 403 && !/rate limit/i.test(said(e))) return { kind: 'forbidden', message: said(e) }
  if (status === 404) return { kind: 'not_found' }
  return { kind: 'unavailable', status }
}

/** Scopes that include another: GitHub names both as accepted, a person needs only the narrower one. */
const NARROWER: Record<string, string> = { 'admin:org': 'write:org', 'write:org': 'read:org', 'admin:repo_hook': 'write:repo_hook', 'write:repo_hook': 'read:repo_hook' }

/** The accepted scopes a person would ask for: the narrowest of each family. */
export function narrowest(scopes: string[]): string[] {
  return scopes.filter((scope) => !scopes.includes(NARROWER[scope] ?? ''))
}

/**
 * Sentences for the person who can act on it: what GitHub refused and why, and, with `instead`,
 * what is done without it (the old app's authorization cannot be widened or renewed from here).
 */
export function explainFault(fault: TokenFault, what: string, instead?: string): string {
  const then = instead === undefined ? '' : ` ${instead}`
  switch (fault.kind) {
    case 'revoked':
      return `GitHub no longer accepts the old app's authorization for ${what}.${then}`
    case 'sso':
      return `GitHub hides ${what} from the old app's authorization: the organization uses SAML single sign-on, and the authorization is not approved for it${fault.url === undefined ? '' : ' (approve it on GitHub at the link, then look again)'}.${then}`
    case 'scope':
      return `The old app's authorization lacks the ${narrowest(fault.needs).join(' or ')} scope GitHub requires for ${what}, and it cannot be widened.${then}`
    case 'forbidden':
      return `GitHub refused the old app's authorization for ${what}: ${fault.message}.${then}`
    case 'not_found':
      return `GitHub does not show ${what} to the old app's authorization.${then}`
    case 'unavailable':
      return `GitHub did not answer for ${what}${fault.status === undefined ? '' : ` (HTTP ${fault.status})`}: look again in a moment.${then}`
  }
}
