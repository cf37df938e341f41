import t from 'tap'
import type { Batch, BatchRepo, Inventory } from '../../src/migration/batches.js'
import { batchesOfOwner, loadBatch, loadPlan, savePlan } from '../../src/migration/plan-store.js'
import { testDatabase } from '../helpers/database.js'

// The plan kept in Postgres: what a user comes back to, and what planning again keeps (what
// GitHub confirmed: status, installation, coverage, the way repositories were added) and takes
// from the new plan (names, roles, repositories, org hooks).

const mona = { id: 1, login: 'mona' }
const octo = { id: 3, login: 'octo' }

function repo(id: number, name: string, over: Partial<BatchRepo> = {}): BatchRepo {
  return { id, name, private: false, moved: false, enabledBy: ['mona'], hookIds: [id + 4000], unseen: null, ...over }
}

function batch(owner: Batch['owner'], over: Partial<Batch> = {}): Batch {
  return { owner, role: 'owner', action: 'install', repos: [], hiddenRepos: 0, orgHooks: [], ...over }
}

const monaAccount = { id: 1, login: 'mona', type: 'User' as const }
const acme = { id: 100, login: 'acme', type: 'Organization' as const }
const widgets = { id: 101, login: 'widgets', type: 'Organization' as const }

function firstPlan(): Inventory {
  return {
    // Not in display order: the store orders them.
    batches: [
      batch(widgets, { role: 'member', action: 'request', repos: [repo(1200, 'core', { enabledBy: ['octo'] })] }),
      batch(acme, { role: 'admin', repos: [repo(1101, 'web', { private: true, enabledBy: ['hubot'] }), repo(1100, 'api')], hiddenRepos: 2, orgHooks: [{ hookId: 6000, enabledBy: ['mona'] }] }),
      batch(monaAccount, { repos: [repo(1001, 'site'), repo(1000, 'dotfiles'), repo(1002, 'new-name', { moved: true })] }),
    ],
    gone: [{ repoId: 1999, repoName: 'deleted-long-ago', ownerLogin: 'mona', hookId: 5999 }],
    notes: [],
  }
}

t.test('a saved plan loads back: own account first, then owners by login, repositories by name, org hooks, counts, the gone', async (t) => {
  const { db } = await testDatabase(t)
  t.equal(await loadPlan(db, 1), undefined, 'nothing planned yet')
  await savePlan(db, mona, firstPlan(), 'req-1')
  const plan = (await loadPlan(db, 1))!
  t.ok(plan.plannedAt instanceof Date)
  t.same(plan.gone, firstPlan().gone)
  t.same(plan.batches.map((b) => b.owner_login), ['mona', 'acme', 'widgets'])
  const [own, org, member] = plan.batches
  t.same(own!.repos.map((r) => r.repo_name), ['dotfiles', 'new-name', 'site'])
  t.match(own!.repos[1], { repo_id: 1002, moved: true, coverage: 'unknown', add_state: null, hook_ids: [5002] })
  t.match(org, { owner_type: 'Organization', role: 'admin', action: 'install', hidden_repos: 2, state: 'planned', installation_id: null, installation: undefined })
  t.same(org!.orgHooks, [{ hookId: 6000, enabledBy: ['mona'] }])
  t.same(org!.repos.map((r) => [r.repo_name, r.private, r.enabled_by]), [
    ['api', false, ['mona']],
    ['web', true, ['hubot']],
  ])
  t.match(member, { role: 'member', action: 'request' })

  const events = await db.selectFrom('app.audit_event').selectAll().where('action', '=', 'batch_planned').orderBy('id').execute()
  t.match(events, [
    { owner_login: 'widgets', actor_login: 'mona', request_id: 'req-1', detail: { role: 'member', action: 'request', repos: 1, hiddenRepos: 0, orgHooks: 0 } },
    { owner_login: 'acme', detail: { role: 'admin', repos: 2, hiddenRepos: 2, orgHooks: 1 } },
    { owner_login: 'mona', detail: { repos: 3 } },
  ])

  t.same(await loadBatch(db, own!.id), own)
  t.equal(await loadBatch(db, 999_999), undefined)
})

t.test('planning again keeps what GitHub confirmed, takes the rest from the new plan, and drops what is gone from it', async (t) => {
  const { db } = await testDatabase(t)
  await savePlan(db, mona, firstPlan())
  const before = (await loadPlan(db, 1))!
  const [own, org, member] = before.batches
  // What the wizard recorded since: mona's account installed and checked, one repo added
  // through the API; an install link issued for widgets.
  await db.insertInto('app.installation').values({ id: 500, account_id: 1, account_login: 'mona', repository_selection: 'selected', suspended_at: null, deleted_at: null }).execute()
  const checkedAt = new Date('2026-01-02T03:04:05Z')
  await db.updateTable('app.batch').set({ state: 'installed', installation_id: 500, coverage_checked_at: checkedAt }).where('id', '=', own!.id).execute()
  await db.updateTable('app.batch_repo').set({ coverage: 'covered' }).where('batch_id', '=', own!.id).execute()
  await db.updateTable('app.batch_repo').set({ coverage: 'moved', moved_to: 'acme', add_state: 'added' }).where('batch_id', '=', own!.id).where('repo_id', '=', 1002).execute()
  await db.updateTable('app.batch').set({ state: 'link_issued' }).where('id', '=', member!.id).execute()
  await db.insertInto('app.install_state').values({ nonce: 'n-1', batch_id: member!.id, user_id: 1, owner_id: 101, repo_ids: [1200], expires_at: new Date(Date.now() + 60_000), used_at: null }).execute()

  // Since: site renamed to website, dotfiles made private, a new repository enabled; acme lost
  // web and its org hook, and mona is a plain member there now; widgets is no longer hers.
  const next: Inventory = {
    batches: [
      batch(monaAccount, { repos: [repo(1000, 'dotfiles', { private: true }), repo(1002, 'new-name'), repo(1003, 'newer'), repo(1001, 'website')] }),
      batch(acme, { role: 'member', action: 'request', repos: [repo(1100, 'api')], hiddenRepos: 0, orgHooks: [] }),
    ],
    gone: [],
    notes: [],
  }
  await savePlan(db, mona, next)
  const after = (await loadPlan(db, 1))!
  t.ok(after.plannedAt >= before.plannedAt)
  t.same(after.gone, [])
  t.same(after.batches.map((b) => [b.id, b.owner_login]), [
    [own!.id, 'mona'],
    [org!.id, 'acme'],
  ], 'the same batches (same ids), widgets gone')
  const mine = after.batches[0]!
  t.match(mine, { state: 'installed', installation_id: 500, coverage_checked_at: checkedAt, installation: { id: 500, repository_selection: 'selected' } })
  t.same(mine.repos.map((r) => [r.repo_id, r.repo_name, r.private, r.coverage, r.moved_to, r.add_state]), [
    [1000, 'dotfiles', true, 'covered', null, null],
    [1002, 'new-name', false, 'moved', 'acme', 'added'],
    [1003, 'newer', false, 'unknown', null, null],
    [1001, 'website', false, 'covered', null, null],
  ])
  t.match(after.batches[1], { role: 'member', action: 'request', hidden_repos: 0, orgHooks: [] })
  t.same(after.batches[1]!.repos.map((r) => r.repo_id), [1100])
  t.equal(await loadBatch(db, member!.id), undefined, "widgets' batch is gone")
  t.same(await db.selectFrom('app.install_state').selectAll().execute(), [], 'and its install link with it')

  // Nothing left at all: every batch goes, the plan stays (an empty one).
  await savePlan(db, mona, { batches: [], gone: [], notes: [] })
  t.same((await loadPlan(db, 1))!.batches, [])
})

t.test("a batch with only an org hook; each user's batches are their own, and an owner's are listed across users", async (t) => {
  const { db } = await testDatabase(t)
  await savePlan(db, mona, { batches: [batch(acme, { role: 'admin', orgHooks: [{ hookId: 6000, enabledBy: ['mona'] }] })], gone: [], notes: [] })
  await savePlan(db, mona, { batches: [batch(acme, { role: 'admin', orgHooks: [{ hookId: 6000, enabledBy: ['mona', 'hubot'] }] })], gone: [], notes: [] })
  await savePlan(db, octo, { batches: [batch(acme, { role: 'member', action: 'request', repos: [repo(1102, 'vault', { enabledBy: ['mona'] })], hiddenRepos: 2 })], gone: [], notes: [] })
  const [mine] = (await loadPlan(db, 1))!.batches
  t.same(mine!.repos, [])
  t.same(mine!.orgHooks, [{ hookId: 6000, enabledBy: ['mona', 'hubot'] }])
  const [octos] = (await loadPlan(db, 3))!.batches
  t.same(octos!.repos.map((r) => r.repo_name), ['vault'])
  t.equal(octos!.orgHooks.length, 0)
  const ofAcme = await batchesOfOwner(db, 100)
  t.same(ofAcme.map((b) => [b.user_id, b.role]), [
    [1, 'admin'],
    [3, 'member'],
  ])
  t.same(await batchesOfOwner(db, 424242), [])
})
