import t from 'tap'
import { claimState, INSTALL_STATE_KEPT_AFTER_EXPIRY_MS, INSTALL_STATE_LIFETIME_MS, installStateKey, issueState, readState, signState, type StatePayload } from '../../src/migration/install-state.js'
import { testDatabase } from '../helpers/database.js'

// The `state` of an install link: signed by this service, naming the user and the owner,
// expiring, and spent once.

const key = installStateKey('a-session-secret-of-at-least-32-characters')
const payload: StatePayload = { nonce: 'n0nce-Abc_123', userId: 1, ownerId: 100, expiresAt: Date.parse('2030-01-01T00:00:00Z') }
const before = Date.parse('2029-12-31T23:59:59Z')

function parts(state: string): [string, string] {
  const [body, signature] = state.split('.')
  return [body!, signature!]
}

t.test('what is signed reads back as it was, until it expires', async (t) => {
  const state = signState(key, payload)
  t.match(state, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/, 'URL-safe, no padding: it goes into a query string as is')
  t.same(readState(key, state, before), { ok: true, payload })
  t.same(readState(key, state, payload.expiresAt), { ok: true, payload }, 'good up to its expiry')
  t.same(readState(key, state, payload.expiresAt + 1), { ok: false, reason: 'expired' }, 'not a millisecond after')
  t.equal(signState(key, payload), state, 'deterministic: nothing random but the nonce')
})

t.test('the key is derived from the session secret and stands in for nothing else', async (t) => {
  t.same(installStateKey('a-session-secret-of-at-least-32-characters'), key, 'the same secret, the same key (every instance agrees)')
  t.equal(key.length, 32)
  t.not(key.toString('utf8'), 'a-session-secret-of-at-least-32-characters')
  const state = signState(key, payload)
  t.same(readState(installStateKey('another-session-secret-of-32-characters!'), state, before), { ok: false, reason: 'forged' }, 'another secret: not ours')
  t.same(readState(Buffer.from('a-session-secret-of-at-least-32-characters'), state, before), { ok: false, reason: 'forged' }, 'the session secret itself is not the key')
})

t.test('anything changed is forged, and a forgery is called forged even when it would have expired', async (t) => {
  const state = signState(key, payload)
  const [body, signature] = parts(state)
  const other = (p: Partial<StatePayload>) => parts(signState(key, { ...payload, ...p }))[0]
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const flip = (s: string, i: number, bit: number) => `${s.slice(0, i)}${alphabet[alphabet.indexOf(s[i]!) ^ bit]}${s.slice(i + 1)}`
  const forgeries: Record<string, string> = {
    'another user': `${other({ userId: 3 })}.${signature}`,
    'another owner': `${other({ ownerId: 101 })}.${signature}`,
    'a later expiry': `${other({ expiresAt: payload.expiresAt + 1 })}.${signature}`,
    'another nonce': `${other({ nonce: 'n0nce-Abc_124' })}.${signature}`,
    'a bit of the signature': `${body}.${flip(signature, 0, 1)}`,
    // Node decodes these to the very same bytes; only the spelling this service wrote counts.
    'the spare bits of the last character': `${body}.${flip(signature, 42, 1)}`,
    'a character base64url does not have': `${body}.${signature.slice(0, 20)}*${signature.slice(20)}`,
    'standard base64 instead of base64url': `${body}.${Buffer.from(signature, 'base64url').toString('base64')}`,
    'the signature cut short': `${body}.${signature.slice(0, -1)}`,
    'the signature made longer': `${body}.${signature}AA`,
    'no signature': `${body}.`,
    'no dot': body,
    'one dot too many': `${state}.x`,
    empty: '',
    'two signatures swapped': `${other({ userId: 3 })}.${parts(signState(key, { ...payload, userId: 2 }))[1]}`,
  }
  for (const [what, forged] of Object.entries(forgeries)) {
    t.same(readState(key, forged, before), { ok: false, reason: 'forged' }, what)
    t.same(readState(key, forged, payload.expiresAt + 86_400_000), { ok: false, reason: 'forged' }, `${what}, expired too`)
  }
})

async function batchOf(tdb: Awaited<ReturnType<typeof testDatabase>>) {
  const { db } = tdb
  await db.insertInto('app.inventory').values({ user_id: 1, user_login: 'mona', planned_at: new Date(), gone: '[]' }).execute()
  return db
    .insertInto('app.batch')
    .values({ user_id: 1, owner_id: 100, owner_login: 'acme', owner_type: 'Organization', role: 'admin', action: 'install', hidden_repos: 0 })
    .returning(['id', 'user_id', 'owner_id'])
    .executeTakeFirstOrThrow()
}

t.test('issuing a state prunes the expired ones, used or not, and keeps the live ones and those a callback may still need', async (t) => {
  const tdb = await testDatabase(t)
  const { db } = tdb
  const batch = await batchOf(tdb)
  const now = Date.now()
  const row = (nonce: string, expiresAt: number, used: boolean) => ({ nonce, batch_id: batch.id, user_id: 1, owner_id: 100, repo_ids: [], expires_at: new Date(expiresAt), used_at: used ? new Date(expiresAt - 60_000) : null })
  const longAgo = now - INSTALL_STATE_KEPT_AFTER_EXPIRY_MS - 60_000
  await db
    .insertInto('app.install_state')
    .values([
      row('expired-yesterday', now - 86_400_000, false),
      row('expired-and-used', longAgo, true),
      row('expired-unused', longAgo, false),
      // Its setup callback may be on its way through GitHub's authorization still.
      row('just-expired', now - 60_000, true),
      row('live', now + 60_000, false),
      row('live-used', now + 60_000, true),
    ])
    .execute()
  const issued = readState(key, await issueState(db, key, batch, []))
  const left = (await db.selectFrom('app.install_state').select('nonce').orderBy('nonce').execute()).map((r) => r.nonce)
  t.same(left, ['just-expired', 'live', 'live-used', issued.ok ? issued.payload.nonce : ''].sort())

  // A long backlog (a table from before pruning) goes a hundred at a time, one issue after another.
  await db.insertInto('app.install_state').values(Array.from({ length: 150 }, (_, i) => row(`old-${i}`, longAgo, false))).execute()
  await issueState(db, key, batch, [])
  t.equal((await db.selectFrom('app.install_state').select('nonce').where('nonce', 'like', 'old-%').execute()).length, 50)
  await issueState(db, key, batch, [])
  t.equal((await db.selectFrom('app.install_state').select('nonce').where('nonce', 'like', 'old-%').execute()).length, 0)
  t.equal((await db.selectFrom('app.install_state').select('nonce').execute()).length, 6, 'the live ones stay')
})

t.test('issued for a batch: signed for its user and owner, recorded with what the link preselected; spent once', async (t) => {
  const tdb = await testDatabase(t)
  const { db } = tdb
  const batch = await batchOf(tdb)
  const issuedAt = Date.now()
  const state = await issueState(db, key, batch, [1100, 1102])
  const read = readState(key, state)
  if (!read.ok) throw new Error('issued state does not read back')
  t.match(read.payload, { userId: 1, ownerId: 100, nonce: /^[A-Za-z0-9_-]{22}$/ })
  t.ok(read.payload.expiresAt >= issuedAt + INSTALL_STATE_LIFETIME_MS && read.payload.expiresAt <= Date.now() + INSTALL_STATE_LIFETIME_MS, 'expires an hour after issue')
  const row = await db.selectFrom('app.install_state').selectAll().where('nonce', '=', read.payload.nonce).executeTakeFirstOrThrow()
  t.match(row, { batch_id: batch.id, user_id: 1, owner_id: 100, repo_ids: [1100, 1102], used_at: null })
  t.equal(row.expires_at.getTime(), read.payload.expiresAt, 'the row and the signature agree on the expiry')

  const another = readState(key, await issueState(db, key, batch, []))
  t.ok(another.ok && another.payload.nonce !== read.payload.nonce, 'every link has a nonce of its own')

  // A double click, two tabs: many at once, one wins.
  const claims = await Promise.all(Array.from({ length: 6 }, () => claimState(db, read.payload.nonce)))
  t.same(
    claims.filter((c) => c),
    [true],
    'exactly one claim succeeds',
  )
  t.equal(await claimState(db, read.payload.nonce), false, 'and it stays spent')
  t.not((await db.selectFrom('app.install_state').select('used_at').where('nonce', '=', read.payload.nonce).executeTakeFirstOrThrow()).used_at, null)
  t.equal(await claimState(db, 'no-such-nonce'), false, 'a nonce never issued is never claimed')
  t.equal(await claimState(db, another.ok ? another.payload.nonce : ''), true, 'the other link is still unspent')
})
