import t from 'tap'
import { anyTasks, finish, intent, openTasks, planTasks } from '../../src/migration/cleanup-task.js'
import { savePlan } from '../../src/migration/plan-store.js'
import { testDatabase } from '../helpers/database.js'
import { serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld } from '../helpers/simulator.js'
import { view } from '../helpers/wizard.js'

// A task's moves, each with its event, and the moves that no longer apply, which change and
// record nothing.

t.test('planned by a system actor with a request id; each move once; a finished task takes no other', async (t) => {
  const world = demoWorld()
  world.installations = [{ id: 500, account: 'mona', repository_selection: 'selected', repositories: [1000] }]
  const service = await serviceWithGitHub(t, world)
  const cookie = await signIn(service.app, service.sim, 1)
  await view(service.app, cookie)
  const { db } = service.tdb
  const batchIds = (await db.selectFrom('app.batch').select('id').where('owner_login', '=', 'mona').execute()).map((b) => b.id)
  const owners = await db.transaction().execute((trx) => planTasks(trx, batchIds, { kind: 'system' }, { agreedOnly: false, requestId: 'req-1' }))
  t.same(owners, [1])
  const planned = await db.selectFrom('app.audit_event').selectAll().where('action', '=', 'hook_removal_planned').execute()
  t.match(planned, [{ actor_kind: 'system', actor_github_id: null, actor_login: null, hook_id: 5000, repo_name: 'dotfiles', installation_id: 500, request_id: 'req-1', detail: { kind: 'repo', enabledBy: 1, agreedBy: 1 } }])
  t.same(await db.transaction().execute((trx) => planTasks(trx, batchIds, { kind: 'system' }, { agreedOnly: false })), [], 'planned already: nothing new')
  t.same(await db.transaction().execute((trx) => planTasks(trx, batchIds, { kind: 'system' }, { agreedOnly: true })), [], 'nobody agreed to "automatically"')

  const [task] = await openTasks(db, 1, 10)
  t.equal(await finish(db, task!, 'removed', { credential: 'legacy' }), true)
  t.equal(await finish(db, task!, 'already_absent'), false, 'one outcome')
  t.equal(await intent(db, task!, 'legacy'), false, 'no attempt after the outcome')
  const events = await db.selectFrom('app.audit_event').select(['action', 'outcome']).where('hook_id', '=', 5000).orderBy('id').execute()
  t.same(events, [
    { action: 'hook_removal_planned', outcome: 'ok' },
    { action: 'hook_cleanup', outcome: 'removed' },
  ])
  t.same(await openTasks(db, 1, 10), [])
})

t.test("anyTasks: a task of one of the user's hooks on its batch's owner, as the page shows them", async (t) => {
  const { db } = await testDatabase(t)
  const mona = { id: 1, login: 'mona' }
  await savePlan(db, mona, {
    batches: [
      { owner: { id: 1, login: 'mona', type: 'User' }, role: 'owner', action: 'install', repos: [{ id: 1000, name: 'site', private: false, moved: false, enabledBy: ['mona'], hookIds: [5000], unseen: null }], hiddenRepos: 0, orgHooks: [] },
      { owner: { id: 100, login: 'acme', type: 'Organization' }, role: 'admin', action: 'install', repos: [], hiddenRepos: 0, orgHooks: [{ hookId: 5001, enabledBy: ['mona'] }] },
    ],
    gone: [],
    notes: [],
  })
  const task = (hookId: number, ownerId: number) =>
    db.insertInto('app.cleanup_task').values({ hook_id: hookId, kind: 'repo', owner_id: ownerId, owner_login: 'someone', repo_id: hookId, repo_name: 'r', enabled_by: 1, requested_by: 1 }).execute()
  t.equal(await anyTasks(db, 1), false, 'no task anywhere')
  await task(9000, 100)
  t.equal(await anyTasks(db, 1), false, "a task on acme of a hook that is not hers: acme's tasks are looked at, none is hers")
  await task(5000, 777)
  t.equal(await anyTasks(db, 1), false, 'her hook, on another owner (the repository moved there since her plan)')
  await task(5001, 100)
  t.equal(await anyTasks(db, 1), true, "acme's organization hook")
  await db.deleteFrom('app.cleanup_task').execute()
  await task(5000, 1)
  t.equal(await anyTasks(db, 1), true, 'her repository on her own account')
})
