import t from 'tap'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { renderedPages } from '../../src/routes/rendered-pages.js'
import { serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { csrfOf, planned, view } from '../helpers/wizard.js'

// The wizard's page is kept per user and sent again while what it shows is unchanged: each
// browser still gets its own working CSRF token, and anything that changed behind the
// instance's back (a job, another instance) shows on the next visit.

t.test('a page is rendered once per plan and inputs, with each visit its own token', async (t) => {
  const pages = renderedPages(2)
  let renders = 0
  const render = async (csrf: string) => {
    renders += 1
    return `<form><input name="_csrf" value="${csrf}"></form><form><input name="_csrf" value="${csrf}"></form>`
  }
  const plan = {}
  const tasks = new Map()
  const from = [plan, tasks]
  t.equal((await pages.page(1, [plan, tasks], 'a', 'token-1', render)).toString(), '<form><input name="_csrf" value="token-1"></form><form><input name="_csrf" value="token-1"></form>')
  t.equal((await pages.page(1, [plan, tasks], 'a', 'token-2', render)).toString(), '<form><input name="_csrf" value="token-2"></form><form><input name="_csrf" value="token-2"></form>', 'kept, with the new token in every form')
  t.equal(renders, 1)
  await pages.page(1, [plan, tasks], 'b', 'token-3', render)
  t.equal(renders, 2, 'other inputs: rendered again')
  await pages.page(1, [{}, tasks], 'b', 'token-3', render)
  t.equal(renders, 3, 'another plan (its rows changed): rendered again')
  await pages.page(1, [plan, tasks], 'b', 'token-3', render)
  await pages.page(1, [plan, new Map()], 'b', 'token-3', render)
  t.equal(renders, 5, 'other tasks (their rows changed): rendered again')
  await pages.page(1, from, 'b', 'token-4', render)
  await pages.page(2, from, 'b', 'token-4', render)
  await pages.page(1, from, 'b', 'token-4', render)
  t.equal(renders, 7, 'a page per user')
  await pages.page(3, from, 'b', 'token-5', render)
  await pages.page(1, from, 'b', 'token-6', render)
  t.equal(renders, 8, 'user 1, visited most recently, was kept')
  await pages.page(2, from, 'b', 'token-7', render)
  t.equal(renders, 9, 'two users kept at most: user 2, visited longest ago, was let go')
})

t.test("mona's page, kept: her other browser's token works there, and a job's writes show at once", async (t) => {
  const { app, sim, tdb } = await serviceWithGitHub(t)
  const laptop = await signIn(app, sim, 1)
  const phone = await signIn(app, sim, 1)
  const visit = async (cookie: string) => {
    const res = await app.inject({ url: '/migrate', cookies: { [SESSION_COOKIE]: cookie } })
    t.equal(res.statusCode, 200)
    return res.body
  }
  await view(app, laptop)
  await planned(app, laptop)
  const onLaptop = await visit(laptop)
  const onPhone = await visit(phone)
  t.not(csrfOf(onPhone), csrfOf(onLaptop), 'each response its own token')
  t.equal(onPhone.replaceAll(csrfOf(onPhone), ''), onLaptop.replaceAll(csrfOf(onLaptop), ''), 'otherwise the same page')
  const signOut = (cookie: string, token: string) => app.inject({ method: 'POST', url: '/auth/logout', cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: token } })
  t.equal((await signOut(phone, csrfOf(onLaptop))).statusCode, 403, "the laptop's token is not the phone's")

  // A removal recorded, and a coverage check begun, by jobs: neither is a row of the plan.
  const { owner_id, hook_ids } = await tdb.db
    .selectFrom('app.batch_repo as r')
    .innerJoin('app.batch as b', 'b.id', 'r.batch_id')
    .select(['b.owner_id', 'r.hook_ids'])
    .where('b.user_id', '=', 1)
    .where('r.repo_name', '=', 'dotfiles')
    .executeTakeFirstOrThrow()
  t.notMatch(onLaptop, 'needs attention')
  await tdb.db
    .insertInto('app.cleanup_task')
    .values({ hook_id: hook_ids[0]!, kind: 'repo', owner_id, owner_login: 'mona', repo_id: 1000, repo_name: 'dotfiles', enabled_by: 1, requested_by: 1, state: 'needs_manual', reason: 'GitHub refused the legacy token' })
    .execute()
  const withTask = await visit(laptop)
  t.match(withTask, 'Old webhooks: 0 removed, 0 remaining, 1 needs attention')
  t.match(withTask, 'GitHub refused the legacy token')
  await tdb.db.insertInto('app.background_work').values({ kind: 'coverage', subject_id: owner_id, state: 'running', phase: 'listing', done: 1, total: 3, outcome: null, message: null, started_at: new Date(), finished_at: null }).execute()
  t.match(await visit(laptop), 'Checking coverage on mona: listing the installation, page 1 of 3')
  t.equal((await signOut(phone, csrfOf(await visit(phone)))).statusCode, 302, "the phone's own token, on the kept page, signs it out")
})
