import { createHash, timingSafeEqual } from 'node:crypto'

// Comparing a secret someone sent with the one expected, in time that depends on neither: both
// are hashed first, so not even their lengths leak through timing.

export function sameSecret(expected: string, sent: string | undefined): boolean {
  if (sent === undefined) return false
  return timingSafeEqual(createHash('sha256').update(expected).digest(), createHash('sha256').update(sent).digest())
}
