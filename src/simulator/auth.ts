import type { KeyObject } from 'node:crypto'
import { looksLikeJwt, verifyAppJwt } from './jwt.js'
import type { Installation, SimState, Token, User } from './state.js'

// Who is calling the API: GitHub's four kinds of credential (or none), from the Authorization
// header, as `token X` or `Bearer X`.

export type InstallationGrant = Extract<Token, { kind: 'installation' }>

export type Auth =
  | { kind: 'none' }
  | { kind: 'legacy'; token: string; user: User; scopes: string[]; clientId: string }
  | { kind: 'user'; token: string; user: User }
  | { kind: 'installation'; token: string; installation: Installation; grant: InstallationGrant }
  | { kind: 'jwt' }

export type AuthResult = { ok: true; auth: Auth } | { ok: false; status: 401 | 403; message: string }

const BAD_CREDENTIALS = { ok: false, status: 401, message: 'Bad credentials' } as const

export function authenticate(state: SimState, publicKey: KeyObject, header: string | undefined, now: Date): AuthResult {
  if (header === undefined || header === '') return { ok: true, auth: { kind: 'none' } }
  const match = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header)
  if (match === null) return BAD_CREDENTIALS
  const credential = match[1]!
  if (looksLikeJwt(credential)) {
    const check = verifyAppJwt(credential, publicKey, state.app.id, Math.floor(now.getTime() / 1000))
    return check.ok ? { ok: true, auth: { kind: 'jwt' } } : { ok: false, status: 401, message: check.message }
  }
  const token = state.tokens.get(credential)
  if (token === undefined) return BAD_CREDENTIALS
  switch (token.kind) {
    case 'legacy':
      return { ok: true, auth: { kind: 'legacy', token: credential, user: state.users.get(token.userId)!, scopes: token.scopes, clientId: token.clientId } }
    case 'user':
      if (token.expiresAt <= now) return BAD_CREDENTIALS
      return { ok: true, auth: { kind: 'user', token: credential, user: state.users.get(token.userId)! } }
    case 'installation': {
      const installation = state.installations.get(token.installationId)
      if (installation === undefined || token.expiresAt <= now) return BAD_CREDENTIALS
      if (token.failFirstUse) {
        token.failFirstUse = false
        return BAD_CREDENTIALS
      }
      if (installation.suspendedAt !== null) return { ok: false, status: 403, message: 'This installation has been suspended' }
      return { ok: true, auth: { kind: 'installation', token: credential, installation, grant: token } }
    }
  }
}

/** An OAuth app's client id and secret sent as Basic credentials; undefined for any other header. */
export function basicCredentials(header: string | undefined): { clientId: string; secret: string } | undefined {
  const encoded = /^basic\s+(\S+)\s*$/i.exec(header ?? '')?.[1]
  if (encoded === undefined) return undefined
  const [clientId = '', ...secret] = Buffer.from(encoded, 'base64').toString().split(':')
  return { clientId, secret: secret.join(':') }
}

/** Who the credential acts as, for the API log (never the token itself). */
export function actorOf(auth: Auth, appSlug: string): string | undefined {
  switch (auth.kind) {
    case 'legacy':
    case 'user':
      return auth.user.login
    case 'installation':
      return `installation ${auth.installation.id}`
    case 'jwt':
      return `app ${appSlug}`
    case 'none':
      return undefined
  }
}
