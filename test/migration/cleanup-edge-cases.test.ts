
import t from 'tap'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { runCleanup } from '../../src/migration/cleanup.js'
import { githubClientsOf, serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld } from '../helpers/simulator.js'
import { csrfOf, formAction, settled, view } from '../helpers/wizard.js'
import { HOOK_URL, mona, installedWorld, monaCovered, agreeForMona, runOnce, tasks, outcomes, events, hooksOn } from '../helpers/cleanup-world.js'

// Removing the legacy hooks, continued from cleanup.test.ts: GitHub failing or refusing, and
// other runs racing a run (what changed on GitHub after the agreement: cleanup-changed-since);
// whatever happens, nothing foreign or uncovered is ever deleted.

t.test('GitHub not answering the listing or a read: nothing decided, the owner runs again later', async (t) => {
  const { service } = await monaCovered(t)
  const faults = (errors: unknown[]) => service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors } })
  await agreeForMona(service)
  await faults([{ pattern: 'GET /installation/repositories', status: 503, rate: 1 }])
  t.same(await runOnce(service, 1), [60])
  await faults([{ pattern: 'GET /repositories/{repository_id}/hooks/{hook_id}', status: 503, rate: 1 }])
  t.same(await runOnce(service, 1), [60])
  t.same(Object.values(await outcomes(service)).slice(0, 3), ['pending', 'pending', 'pending'])
  // A 404 that cannot be confirmed for want of an answer decides nothing either.
  service.sim.state.repos.get(1000)!.hooks.delete(5000)
  await faults([{ pattern: 'GET /repositories/{repository_id}', status: 503, rate: 1 }])
  t.same(await runOnce(service, 1), [60])
  t.same(Object.values(await outcomes(service)).slice(0, 3), ['pending', 'removed', 'removed'])
  await faults([])
  t.same(await runOnce(service, 1), [])
  t.same(Object.values(await outcomes(service)).slice(0, 3), ['already_absent', 'removed', 'removed'])
})

t.test('a DELETE carried out whose answer is a 404: read again, gone, removed', async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  await service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors: [{ pattern: 'DELETE /repositories/{repository_id}/hooks/{hook_id}', status: 404, rate: 1, lost: true }] } })
  await runOnce(service, 1)
  t.same((await tasks(service)).filter((r) => r.hook_id < 5100).map((r) => [r.state, r.attempts]), [
    ['removed', 1],
    ['removed', 1],
    ['removed', 1],
  ])
})

t.test('through the queue: runs of a few hooks follow each other until all are done', async (t) => {
  const service = await serviceWithGitHub(t, installedWorld(), { cleanupTasksPerRun: 2 })
  const cookie = await signIn(service.app, service.sim, 1)
  const page = await view(service.app, cookie)
  await service.app.inject({ method: 'POST', url: formAction(page.body, 'Remove 4 old webhooks'), cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrfOf(page.body) } })
  await settled(service)
  t.same(await outcomes(service), { 5100: 'removed', 5101: 'removed', 5102: 'removed', 6000: 'removed' }, 'acme only: not "automatically"')
  t.match((await view(service.app, cookie)).body, 'Remove 3 old webhooks', "mona's own are still asked for")
})

t.test('removal "now" before the App is installed is refused and changes nothing; "as soon as it covers them" is recorded and removes nothing yet', async (t) => {
  const service = await serviceWithGitHub(t, demoWorld())
  const cookie = await signIn(service.app, service.sim, 1)
  const page = await view(service.app, cookie)
  const batch = await service.tdb.db.selectFrom('app.batch').select('id').where('owner_login', '=', 'mona').executeTakeFirstOrThrow()
  const remove = (auto: boolean) =>
    service.app.inject({ method: 'POST', url: `/migrate/batches/${batch.id}/remove`, cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrfOf(page.body), ...(auto ? { auto: 'on' } : {}) } })
  const now = await remove(false)
  t.equal(now.statusCode, 409)
  t.match(now.body, 'The App is not installed on mona yet')
  t.equal((await tasks(service)).length, 0)
  t.equal(await service.tdb.db.selectFrom('app.cleanup_consent').select('user_id').executeTakeFirst(), undefined)

  t.equal((await remove(true)).statusCode, 303)
  t.same(await service.tdb.db.selectFrom('app.cleanup_consent').select(['user_id', 'auto']).execute(), [{ user_id: 1, auto: true }])
  t.equal((await tasks(service)).length, 0, 'nothing is covered: nothing to remove yet')
  t.same((await service.tdb.db.selectFrom('app.audit_event').select(['installation_id', 'detail']).where('action', '=', 'cleanup_agreed').execute()), [{ installation_id: null, detail: { auto: true } }], 'agreed before any installation')
})

t.test("a DELETE the old token may not make: the App's permission makes it, the second attempt on the record", async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  await service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors: [{ pattern: 'DELETE /repositories/{repository_id}/hooks/{hook_id}', status: 403, rate: 1, actor: 'mona' }] } })
  await runOnce(service, 1)
  t.same((await tasks(service)).filter((r) => r.hook_id < 5100).map((r) => [r.state, r.credential, r.attempts]), [
    ['removed', 'installation', 2],
    ['removed', 'installation', 2],
    ['removed', 'installation', 2],
  ])
  const intents = (await events(service, 'hook_delete_attempted')).filter((e) => e.hook_id === 5000).map((e) => e.detail)
  t.match(intents, [{ credential: 'legacy', attempt: 1 }, { credential: 'installation', attempt: 2 }])
})

t.test('a DELETE answered 404 while the hook is still there is never counted as removed', async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  await service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors: [{ pattern: 'DELETE /repositories/{repository_id}/hooks/{hook_id}', status: 404, rate: 1 }] } })
  await runOnce(service, 1)
  const row = (await tasks(service)).find((r) => r.hook_id === 5000)!
  t.match(row, { state: 'needs_manual', attempts: 2, reason: /A removal was sent without GitHub confirming it: if hook 5000 on mona\/dotfiles is still there, at \S+, delete it by hand\.$/ })
  t.same(hooksOn(service, 1000), [5000])
})

t.test('the legacy token revoked and the installation refused: a person, with both reasons', async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  await service.sim.sim.app.inject({ method: 'POST', url: '/_sim/users/mona/revoke-legacy-token' })
  await service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors: [{ pattern: 'GET /repositories/{repository_id}/hooks/{hook_id}', status: 401, rate: 1, actor: 'installation 500' }] } })
  await runOnce(service, 1)
  t.match((await tasks(service)).find((r) => r.hook_id === 5000)!.reason, /^The legacy token of mona was revoked and GitHub refused the App's installation \(revoked\): delete hook 5000/)
})

t.test('another run finished a hook between the read and the intent: this one does nothing more with it', async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  const github = githubClientsOf(service)
  const { db } = service.tdb
  const racing = {
    ...github,
    asUser: (token: string) => {
      const octokit = github.asUser(token)
      octokit.hook.after('request', async (_response, options) => {
        if (options.method === 'GET' && String(options.url).includes('/hooks/')) {
          await db.updateTable('app.cleanup_task').set({ state: 'removed' }).where('state', '=', 'pending').where('owner_id', '=', 1).execute()
        }
      })
      return octokit
    },
  }
  await runCleanup(db, racing, 1, { hookUrl: HOOK_URL, maxTasks: 100, again: async () => {} })
  t.equal((await events(service, 'hook_delete_attempted')).length, 0, 'no intent, so no DELETE')
  t.equal(service.sim.state.apiLog.filter((e) => e.method === 'DELETE').length, 0)
})
