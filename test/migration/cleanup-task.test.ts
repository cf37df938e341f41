import t from 'tap'
import { finish, intent, openTasks, planTasks } from '../../src/migration/cleanup-task.js'
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
