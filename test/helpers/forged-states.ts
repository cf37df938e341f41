import { installStateKey, signState } from '../../src/migration/install-state.js'

/**
 * Forgeries of a real install `state`, by what was done to it: the setup callback must tell
 * each from the state this service signed. `otherUserId`: whom the claim is changed to.
 */
export function forgedStates(state: string, otherUserId: number): Record<string, string> {
  const [body, signature] = state.split('.') as [string, string]
  const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as [string, number, number, number]
  // The same signature spelled differently: base64url's last character carries spare bits.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const sameBits = alphabet[alphabet.indexOf(signature.at(-1)!) ^ 1]!
  const claim = (changed: [string, number, number, number]) => `${Buffer.from(JSON.stringify(changed)).toString('base64url')}.${signature}`
  return {
    'a changed signature': `${body}.${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`,
    'the signature spelled another way': `${body}.${signature.slice(0, -1)}${sameBits}`,
    'the signature with a stray character': `${body}.${signature}!`,
    'content changed to another user': claim([payload[0], otherUserId, payload[2], payload[3]]),
    'content with a later expiry': claim([payload[0], payload[1], payload[2], payload[3] + 86_400_000]),
    'signed with another key': signState(installStateKey('another-secret-of-at-least-32-characters!!'), { nonce: payload[0], userId: payload[1], ownerId: payload[2], expiresAt: payload[3] }),
    garbage: 'garbage',
    'three parts': `${state}.${signature}`,
    'no signature': `${body}.`,
  }
}
