import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'

// The `state` of an install link: signed, naming the user and the owner, one-time and
// expiring. The signature says this service issued it; the row it names (app.install_state)
// says it is unused and which repositories the link preselected.

/** Long enough to choose repositories on GitHub and sign in there first; short enough to be worthless when leaked later. */
export const INSTALL_STATE_LIFETIME_MS = 60 * 60_000

export interface StatePayload {
  nonce: string
  userId: number
  ownerId: number
  expiresAt: number
}

export type StateKey = Buffer

/** A key of its own, derived from the session secret, so neither can stand in for the other. */
export function installStateKey(sessionSecret: string): StateKey {
  return Buffer.from(hkdfSync('sha256', sessionSecret, 'oauth-to-app', 'install-state', 32))
}

function mac(key: StateKey, body: string): Buffer {
  return createHmac('sha256', key).update(body).digest()
}

export function signState(key: StateKey, payload: StatePayload): string {
  const body = Buffer.from(JSON.stringify([payload.nonce, payload.userId, payload.ownerId, payload.expiresAt])).toString('base64url')
  return `${body}.${mac(key, body).toString('base64url')}`
}

export type StateCheck = { ok: true; payload: StatePayload } | { ok: false; reason: 'forged' | 'expired' }

/** Checks signature and expiry only; the one-time use is the row's (see claimState). */
export function readState(key: StateKey, state: string, now = Date.now()): StateCheck {
  const [body, signature, extra] = state.split('.')
  if (body === undefined || signature === undefined || extra !== undefined) return { ok: false, reason: 'forged' }
  const given = Buffer.from(signature, 'base64url')
  const expected = mac(key, body)
  // Node's base64url decoder skips characters it does not know and ignores a last character's
  // spare bits: only the one canonical spelling of the signature is taken.
  if (given.toString('base64url') !== signature || given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'forged' }
  const [nonce, userId, ownerId, expiresAt] = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as [string, number, number, number]
  if (expiresAt < now) return { ok: false, reason: 'expired' }
  return { ok: true, payload: { nonce, userId, ownerId, expiresAt } }
}

/**
 * How long a state's row outlives its expiry. The setup route reads the signature's expiry
 * before the row, so a reload of an expired link is answered "expired" without it; but a
 * callback that passed that check may still be on its way through GitHub's authorization
 * (up to the sign-in window, ten minutes) when the state expires, and needs its row then.
 */
export const INSTALL_STATE_KEPT_AFTER_EXPIRY_MS = 30 * 60_000

/** Past this many expired rows, the rest wait for the next state issued. */
const PRUNE_BATCH = 100

/**
 * Removes expired states (used or not: nothing reads them any more; the audit log keeps what
 * happened). Run where states are issued rather than by a scheduled job: rows accumulate only
 * as states are issued, so pruning at that pace (up to a hundred each time) keeps the table
 * to the states of about the last ninety minutes without a timer or another queue, and the
 * expiry index makes it a range scan. Rows another transaction holds are skipped, so two users
 * pressing Install never wait on each other.
 */
export async function pruneStates(db: Kysely<Database>, now = Date.now()): Promise<number> {
  const before = new Date(now - INSTALL_STATE_KEPT_AFTER_EXPIRY_MS)
  const pruned = await db
    .deleteFrom('app.install_state')
    .where('nonce', 'in', (eb) => eb.selectFrom('app.install_state').select('nonce').where('expires_at', '<', before).limit(PRUNE_BATCH).forUpdate().skipLocked())
    .executeTakeFirst()
  return Number(pruned.numDeletedRows)
}

export async function issueState(
  db: Kysely<Database>,
  key: StateKey,
  batch: { id: number; user_id: number; owner_id: number },
  repoIds: number[],
): Promise<string> {
  const nonce = randomBytes(16).toString('base64url')
  const expiresAt = Date.now() + INSTALL_STATE_LIFETIME_MS
  await pruneStates(db)
  await db
    .insertInto('app.install_state')
    .values({ nonce, batch_id: batch.id, user_id: batch.user_id, owner_id: batch.owner_id, repo_ids: repoIds, expires_at: new Date(expiresAt), used_at: null })
    .execute()
  return signState(key, { nonce, userId: batch.user_id, ownerId: batch.owner_id, expiresAt })
}

/** Spends the state; false when another request (a second tab, a double click) spent it first. */
export async function claimState(db: Kysely<Database>, nonce: string): Promise<boolean> {
  const claimed = await db
    .updateTable('app.install_state')
    .set({ used_at: sql<Date>`now()` })
    .where('nonce', '=', nonce)
    .where('used_at', 'is', null)
    .returning('nonce')
    .executeTakeFirst()
  return claimed !== undefined
}
