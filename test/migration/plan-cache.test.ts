import { sql } from 'kysely'
import t, { type Test } from 'tap'
import type { Batch, BatchRepo, Inventory } from '../../src/migration/batches.js'
import { planCache, planFingerprint } from '../../src/migration/plan-cache.js'
import { loadPlan, savePlan } from '../../src/migration/plan-store.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'

// An instance keeps the plans it read and reads one again only when a row of it changed,
// whoever changed it: every kind of row a plan is read from, changed behind the cache's back
// (as another instance or a job would), is seen on the next visit.

const mona = { id: 1, login: 'mona' }
const octo = { id: 3, login: 'octo' }
const acme = { id: 100, login: 'acme', type: 'Organization' as const }

const repo = (id: number, name: string, over: Partial<BatchRepo> = {}): BatchRepo => ({ id, name, private: false, moved: false, enabledBy: ['mona'], hookIds: [id + 4000], unseen: null, ...over })
const batch = (owner: Batch['owner'], over: Partial<Batch> = {}): Batch => ({ owner, role: 'owner', action: 'install', repos: [], hiddenRepos: 0, orgHooks: [], ...over })

function plan(): Inventory {
  return {
    batches: [
      batch({ id: mona.id, login: mona.login, type: 'User' }, { repos: [repo(1000, 'dotfiles'), repo(1001, 'site')] }),
      batch(acme, { role: 'admin', repos: [repo(1100, 'api')], orgHooks: [{ hookId: 6000, enabledBy: ['mona'] }] }),
    ],
    gone: [],
    notes: [],
  }
}

async function planned(t: Test): Promise<TestDatabase> {
  const tdb = await testDatabase(t)
  await savePlan(tdb.db, mona, plan())
  return tdb
}

t.test('an unchanged plan is read once; what the cache hands out is what loadPlan reads', async (t) => {
  const { db } = await planned(t)
  const cache = planCache()
  const first = await cache.load(db, mona.id)
  t.same(first, await loadPlan(db, mona.id), 'the same plan as a plain read')
  t.equal(await cache.load(db, mona.id), first, 'unchanged: the kept one')
  t.equal(await planFingerprint(db, mona.id), await planFingerprint(db, mona.id), 'the fingerprint is stable while nothing changes')
  t.equal(await cache.load(db, octo.id), undefined, 'a user who never planned has none')
  t.equal(await planFingerprint(db, octo.id), undefined)
})

t.test('a change to any row of the plan is seen on the next visit', async (t) => {
  const { db } = await planned(t)
  const cache = planCache()
  const acmeBatch = async (): Promise<number> => (await db.selectFrom('app.batch').select('id').where('owner_id', '=', acme.id).executeTakeFirstOrThrow()).id
  const changes: [string, () => Promise<unknown>, (p: NonNullable<Awaited<ReturnType<typeof loadPlan>>>) => unknown][] = [
    ['a repository checked', () => db.updateTable('app.batch_repo').set({ coverage: 'covered' }).where('repo_id', '=', 1100).execute(), (p) => p.batches[1]!.repos[0]!.coverage],
    ['a repository added', async () => db.insertInto('app.batch_repo').values({ batch_id: await acmeBatch(), repo_id: 1101, repo_name: 'web', private: true, moved: false, enabled_by: ['mona'], hook_ids: [5101], moved_to: null, add_state: null, add_reason: null }).execute(), (p) => p.batches[1]!.repos.map((r) => r.repo_name)],
    ['a repository removed', () => db.deleteFrom('app.batch_repo').where('repo_id', '=', 1000).execute(), (p) => p.batches[0]!.repos.map((r) => r.repo_name)],
    ['an org hook removed', () => db.deleteFrom('app.batch_org_hook').execute(), (p) => p.batches[1]!.orgHooks],
    ['a batch asked for', () => db.updateTable('app.batch').set({ state: 'request_pending' }).where('owner_id', '=', acme.id).execute(), (p) => p.batches[1]!.state],
    [
      'a batch installed',
      async () => {
        await db.insertInto('app.installation').values({ id: 77, account_id: acme.id, account_login: 'acme', repository_selection: 'selected', suspended_at: null, deleted_at: null }).execute()
        await db.updateTable('app.batch').set({ state: 'installed', installation_id: 77 }).where('owner_id', '=', acme.id).execute()
      },
      (p) => p.batches[1]!.installation?.repository_selection,
    ],
    ['its installation changed', () => db.updateTable('app.installation').set({ repository_selection: 'all' }).execute(), (p) => p.batches[1]!.installation?.repository_selection],
    ['the grant revoked', () => db.updateTable('app.inventory').set({ grant_revoked_at: new Date('2026-01-02T03:04:05Z') }).execute(), (p) => p.grantRevokedAt],
    ['a batch gone', () => db.deleteFrom('app.batch').where('owner_id', '=', acme.id).execute(), (p) => p.batches.length],
  ]
  for (const [what, change, read] of changes) {
    const before = await cache.load(db, mona.id)
    await change()
    const after = (await cache.load(db, mona.id))!
    t.not(after, before, `${what}: read again`)
    t.same(read(after), read((await loadPlan(db, mona.id))!), `${what}: the page sees it`)
    t.not(read(after), read(before!), `${what}: and it is a change`)
  }
  await db.deleteFrom('app.batch').execute()
  await db.deleteFrom('app.inventory').execute()
  t.equal(await cache.load(db, mona.id), undefined, 'the plan gone: none')
})

t.test("inside a repeatable read transaction, the plan is the snapshot's", async (t) => {
  const { db } = await planned(t)
  const cache = planCache()
  const before = await cache.load(db, mona.id)
  await db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      t.equal(await cache.load(trx, mona.id), before, 'unchanged: the kept one')
      await db.updateTable('app.batch_repo').set({ coverage: 'covered' }).where('repo_id', '=', 1100).execute()
      t.equal(await cache.load(trx, mona.id), before, 'changed since the snapshot began: still the plan of the snapshot')
    })
  const after = (await cache.load(db, mona.id))!
  t.equal(after.batches[1]!.repos[0]!.coverage, 'covered', 'after it, the change')
})

t.test('a row moved without a change only costs a reading', async (t) => {
  const { db } = await planned(t)
  const cache = planCache()
  const before = await cache.load(db, mona.id)
  await sql`vacuum full app.batch_repo`.execute(db)
  const after = await cache.load(db, mona.id)
  t.same(after, before)
})

t.test('the users read most recently are kept, the others let go', async (t) => {
  const { db } = await planned(t)
  const hubot = { id: 4, login: 'hubot' }
  for (const user of [octo, hubot]) await savePlan(db, user, { batches: [batch({ id: user.id, login: user.login, type: 'User' }, { repos: [repo(user.id * 1000, 'site', { enabledBy: [user.login] })] })], gone: [], notes: [] })
  const cache = planCache(2)
  const monas = await cache.load(db, mona.id)
  const octos = await cache.load(db, octo.id)
  t.equal(await cache.load(db, mona.id), monas, 'kept')
  await cache.load(db, hubot.id)
  t.equal(await cache.load(db, mona.id), monas, 'read most recently: still kept')
  t.not(await cache.load(db, octo.id), octos, 'two users kept at most: octo, read longest ago, was let go')
})

t.test("a repository's row changed alone, even within a transaction that changes more, is seen through its batch's row", async (t) => {
  const { db } = await planned(t)
  const cache = planCache()
  const before = (await cache.load(db, mona.id))!
  const versions = async () => (await sql<{ v: string }>`select string_agg(xmin::text, ',' order by id) as v from app.batch`.execute(db)).rows[0]!.v
  const untouched = await versions()
  // Two repositories of one batch and one of another, in one transaction, with no write of
  // the batches' own rows: each batch row is written once.
  await db.transaction().execute(async (trx) => {
    await trx.updateTable('app.batch_repo').set({ coverage: 'covered' }).where('repo_id', 'in', [1000, 1001]).execute()
    await trx.updateTable('app.batch_repo').set({ coverage: 'gone' }).where('repo_id', '=', 1100).execute()
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from app.batch where xmin::text = (pg_current_xact_id()::xid)::text`.execute(trx)
    t.equal(rows[0]!.n, 2, "both batches' rows are this transaction's versions")
  })
  t.not(await versions(), untouched)
  const after = (await cache.load(db, mona.id))!
  t.not(after, before, 'read again')
  t.same(
    after.batches.map((b) => b.repos.map((r) => r.coverage)),
    [['covered', 'covered'], ['gone']],
  )
  // A repository moved to another batch touches both.
  const [monaBatch, acmeBatch] = (await db.selectFrom('app.batch').select('id').orderBy('id').execute()).map((b) => b.id)
  const touched = await versions()
  await db.updateTable('app.batch_repo').set({ batch_id: acmeBatch! }).where('repo_id', '=', 1001).where('batch_id', '=', monaBatch!).execute()
  const moved = (await versions()).split(',')
  t.ok(moved.every((v, i) => v !== touched.split(',')[i]), 'the batch it left and the batch it joined are both written')
})
