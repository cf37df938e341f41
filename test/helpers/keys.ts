import { generateKeyPairSync } from 'node:crypto'

/** A real RSA key pair in PEM, as GitHub hands out for an App (PKCS#1 private key). */
export function rsaKeyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  })
}
