import { createHash, randomBytes } from 'node:crypto'

// The GitHub App's user authorization (web flow) with PKCE. @octokit/oauth-methods does not
// send a code_verifier, so the exchange is done here, against GITHUB_WEB_URL.

export interface Pkce {
  verifier: string
  challenge: string
}

export function createPkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

export interface AuthorizeParams {
  webUrl: string
  clientId: string
  redirectUri: string
  state: string
  codeChallenge: string
}

export function authorizationUrl(p: AuthorizeParams): string {
  const url = new URL('/login/oauth/authorize', `${p.webUrl}/`)
  url.searchParams.set('client_id', p.clientId)
  url.searchParams.set('redirect_uri', p.redirectUri)
  url.searchParams.set('state', p.state)
  url.searchParams.set('code_challenge', p.codeChallenge)
  url.searchParams.set('code_challenge_method', 'S256')
  return url.toString()
}

export interface UserToken {
  token: string
  /** Absent when the app does not expire user tokens. */
  expiresAt?: Date
  refreshToken?: string
  refreshTokenExpiresAt?: Date
}

/** GitHub refused the code (or the request): `error` is GitHub's code, e.g. bad_verification_code. */
export class OAuthExchangeError extends Error {
  override name = 'OAuthExchangeError'
  constructor(
    readonly error: string,
    description: string,
  ) {
    super(description)
  }
}

export interface ExchangeParams {
  webUrl: string
  clientId: string
  clientSecret: string
  code: string
  redirectUri: string
  codeVerifier: string
  fetch?: typeof fetch
}

interface TokenReply {
  access_token?: string
  expires_in?: number
  refresh_token?: string
  refresh_token_expires_in?: number
  error?: string
  error_description?: string
}

export async function exchangeCode(p: ExchangeParams, now = Date.now()): Promise<UserToken> {
  const response = await (p.fetch ?? fetch)(new URL('/login/oauth/access_token', `${p.webUrl}/`), {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify({
      client_id: p.clientId,
      client_secret: p.clientSecret,
      code: p.code,
      redirect_uri: p.redirectUri,
      code_verifier: p.codeVerifier,
    }),
  })
  let reply: TokenReply
  try {
    reply = (await response.json()) as TokenReply
  } catch {
    throw new OAuthExchangeError('unreadable_reply', `GitHub answered the code exchange with HTTP ${response.status} and no JSON`)
  }
  // GitHub reports a refused code with HTTP 200 and an `error` field.
  if (!response.ok || reply.error !== undefined || reply.access_token === undefined) {
    throw new OAuthExchangeError(reply.error ?? `http_${response.status}`, reply.error_description ?? 'GitHub did not return a token')
  }
  const at = (seconds: number | undefined): Date | undefined => (seconds === undefined ? undefined : new Date(now + seconds * 1000))
  const token: UserToken = { token: reply.access_token }
  const expiresAt = at(reply.expires_in)
  if (expiresAt) token.expiresAt = expiresAt
  if (reply.refresh_token !== undefined) token.refreshToken = reply.refresh_token
  const refreshTokenExpiresAt = at(reply.refresh_token_expires_in)
  if (refreshTokenExpiresAt) token.refreshTokenExpiresAt = refreshTokenExpiresAt
  return token
}
