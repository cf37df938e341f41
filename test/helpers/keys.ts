import { generateKeyPairSync } from 'node:crypto'

/** A real RSA key pair in PEM, as GitHub hands out for an App (PKCS#1 private key). */
export function rsaKeyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  })
}

let shared: { privateKey: string; publicKey: string } | undefined

/**
 * One key pair for every service and simulator of a test process. Making one costs about a
 * quarter of a second of CPU (up to a second on a busy machine), and a test file starts dozens;
 * a test that needs a key nobody else has calls rsaKeyPair().
 */
export function sharedKeyPair(): { privateKey: string; publicKey: string } {
  return (shared ??= rsaKeyPair())
}
