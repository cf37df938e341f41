import t from 'tap'
import { claimState, installStateKey, issueState, readState } from '../../src/migration/install-state.js'
import { findLink, linkStanding, usedLink, type SetupLink } from '../../src/migration/setup-link.js'
import { testDatabase } from '../helpers/database.js'

// What a signed install link's row says, as the setup URL asks it before GitHub's authorization
// and verifySetup asks it again after: the same checks in the same order, in the words of each.

const key = installStateKey('a-session-secret-of-at-least-32-characters')
const MONA = { id: 1, login: 'mona' }
const OCTO = { id: 3, login: 'octo' }
const payload = { userId: MONA.id }

/** A link's row as far as the checks read it. */
function linkOf(usedAt: Date | null, installationId: number | null): SetupLink {
  return { state: { used_at: usedAt }, batch: { installation_id: installationId, owner_login: 'acme' } } as unknown as SetupLink
}

t.test('a link whose batch was planned again is refused before anything else is looked at', async (t) => {
  for (const check of ['session', 'github'] as const) {
    t.same(linkStanding(undefined, payload, OCTO, 42, check), {
      kind: 'refused',
      refusal: 'replanned',
      status: 409,
      reason: 'This installation link belongs to a plan that was made again since. Start again from your migration page.',
    })
  }
})

t.test("another account than the link's: refused in the words of whom it was checked against, before its use is looked at", async (t) => {
  const used = linkOf(new Date(), 7)
  t.same(linkStanding(used, payload, OCTO, 8, 'session'), {
    kind: 'refused',
    refusal: 'other_account',
    status: 403,
    reason: 'You are signed in as octo, but this installation was started by another account. Sign out, and sign in as that account.',
  })
  t.same(linkStanding(used, payload, OCTO, 8, 'github'), {
    kind: 'refused',
    refusal: 'other_account',
    status: 403,
    reason: 'You are signed in on GitHub as octo, but this installation was started by another account.',
  })
  t.equal(linkStanding(linkOf(null, null), payload, undefined, 8, 'session').kind, 'open', 'nobody signed in here: GitHub will say who it is')
})

t.test('a used link: the same installation lands again, another is a replay, and without one the claim decides', async (t) => {
  const used = linkOf(new Date(), 7)
  t.match(linkStanding(linkOf(null, null), payload, MONA, 7, 'github'), { kind: 'open' })
  t.match(linkStanding(used, payload, MONA, 7, 'github'), { kind: 'already', link: used })
  t.same(linkStanding(used, payload, MONA, 8, 'github'), usedLink('github'))
  t.same(linkStanding(used, payload, undefined, 8, 'session'), usedLink('session'))
  t.match(linkStanding(used, payload, MONA, undefined, 'session'), { kind: 'open', link: used })
  t.same(usedLink('session'), { kind: 'refused', refusal: 'used_link', status: 409, reason: 'This installation link was already used. Your migration page shows where things stand.' })
  t.same(usedLink('github'), { kind: 'refused', refusal: 'used_link', status: 409, reason: 'This installation link was already used.' })
})

t.test("findLink: a link's row with its batch, as long as the batch is there", async (t) => {
  const { db } = await testDatabase(t)
  await db.insertInto('app.inventory').values({ user_id: 1, user_login: 'mona', planned_at: new Date(), gone: '[]' }).execute()
  const batch = await db
    .insertInto('app.batch')
    .values({ user_id: 1, owner_id: 100, owner_login: 'acme', owner_type: 'Organization', role: 'admin', action: 'install', hidden_repos: 0 })
    .returning(['id', 'user_id', 'owner_id'])
    .executeTakeFirstOrThrow()
  const read = readState(key, await issueState(db, key, batch, [1100]))
  if (!read.ok) throw new Error('issued state does not read back')
  const { nonce } = read.payload

  t.match(await findLink(db, nonce), { state: { nonce, batch_id: batch.id, repo_ids: [1100], used_at: null }, batch: { id: batch.id, owner_login: 'acme', repos: [] } })
  await claimState(db, nonce)
  t.match(await findLink(db, nonce), { state: { used_at: Date } }, 'spent, and still found')
  t.equal(await findLink(db, 'no-such-nonce'), undefined)
  await db.deleteFrom('app.batch').where('id', '=', batch.id).execute()
  t.equal(await findLink(db, nonce), undefined, 'planned away: the batch and its links are gone')
})
