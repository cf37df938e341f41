import { verify, type KeyObject } from 'node:crypto'

// The GitHub App's JSON Web Token, checked as GitHub does: RS256 with the app's key, `iss`
// the app's id, lifetime at most ten minutes, a minute of clock skew tolerated. The messages
// are GitHub's: @octokit/auth-app recognizes the time ones and retries with corrected time.

export const JWT_UNDECODABLE = 'A JSON web token could not be decoded'
export const JWT_EXP_TOO_FAR = "'Expiration time' claim ('exp') is too far in the future"
export const JWT_EXPIRED = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
export const JWT_BAD_IAT = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"

const MAX_LIFETIME_S = 600
const SKEW_S = 60

export type JwtCheck = { ok: true } | { ok: false; message: string }

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** Whether a bearer credential is shaped like a JWT rather than an opaque token. */
export function looksLikeJwt(credential: string): boolean {
  return credential.startsWith('eyJ') && credential.split('.').length === 3
}

export function verifyAppJwt(jwt: string, publicKey: KeyObject, appId: number, nowS: number): JwtCheck {
  const [head, body, signature] = jwt.split('.') as [string, string, string]
  const header = decodeJson(head)
  const claims = decodeJson(body)
  if (header?.['alg'] !== 'RS256' || claims === undefined) return { ok: false, message: JWT_UNDECODABLE }
  if (!verify('RSA-SHA256', Buffer.from(`${head}.${body}`), publicKey, Buffer.from(signature, 'base64url'))) {
    return { ok: false, message: JWT_UNDECODABLE }
  }
  if (String(claims['iss']) !== String(appId)) return { ok: false, message: JWT_UNDECODABLE }
  const { iat, exp } = claims
  if (typeof iat !== 'number' || !Number.isInteger(iat) || iat > nowS + SKEW_S) return { ok: false, message: JWT_BAD_IAT }
  if (typeof exp !== 'number' || exp < nowS - SKEW_S) return { ok: false, message: JWT_EXPIRED }
  // With iat no later than now + skew, this also bounds exp from now.
  if (exp - iat > MAX_LIFETIME_S) return { ok: false, message: JWT_EXP_TOO_FAR }
  return { ok: true }
}
