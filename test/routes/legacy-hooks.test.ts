import t from 'tap'
import type { World } from '../../src/simulator/world.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { serviceWithGitHub, TEST_RECEIVER_SECRET, type Service } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld, installedOnMonaAndAcme } from '../helpers/simulator.js'
import { testDatabase } from '../helpers/database.js'
import { testServer } from '../helpers/server.js'
import { csrfOf, formAction, settled, view } from '../helpers/wizard.js'

// GET /legacy/hooks/{hook_id}: whether the vendor's legacy receiver should process a delivery of
// an old hook, through the switch-over: active, covered (drop it: the App delivers it too),
// removing, and what became of it.

const world = (): World => installedOnMonaAndAcme([1000, 1001])

const ask = (service: Service, hookId: string | number, secret: string | null = TEST_RECEIVER_SECRET) =>
  service.app.inject({ url: `/legacy/hooks/${hookId}`, headers: secret === null ? {} : { authorization: `Bearer ${secret}` } })

t.test('each hook through the switch-over: active, covered, then removed; the App covers it: drop the old delivery', async (t) => {
  const service = await serviceWithGitHub(t, world())
  const before = await ask(service, 5000)
  t.equal(before.statusCode, 200)
  t.match(before.json(), { hook_id: 5000, repo_id: 1000, state: 'active', deliver: true }, 'nobody migrated yet')
  t.equal(before.headers['cache-control'], 'no-store')
  const cookie = await signIn(service.app, service.sim, 1)
  const page = await view(service.app, cookie)
  const covered = await ask(service, 5000)
  t.match(covered.json(), { state: 'covered', deliver: false }, 'the App delivers it now')
  t.ok(Date.parse(covered.json<{ since: string }>().since) > Date.parse(before.json<{ since: string }>().since), 'since the check')
  t.match((await ask(service, 5003)).json(), { repo_id: 1002, state: 'active', deliver: true }, 'mona/new-name is not in the installation')
  t.match((await ask(service, 6000)).json(), { repo_id: null, state: 'covered', deliver: false }, "acme's organization hook: the installation is on all repositories")
  t.match((await ask(service, 5200)).json(), { state: 'active', deliver: true }, 'widgets has no installation')
  t.match((await ask(service, 5999)).json(), { state: 'active', deliver: true }, 'a repository long gone: as recorded')
  await service.app.inject({ method: 'POST', url: formAction(page.body, 'Remove 2 old webhooks'), cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrfOf(page.body) } })
  await settled(service)
  t.match((await ask(service, 5000)).json(), { state: 'removed', deliver: false })
  t.match((await ask(service, 5100)).json(), { state: 'covered', deliver: false }, 'not agreed for acme: covered, not removed')
  // The installation goes: old hooks deliver again where they are left.
  await service.sim.sim.app.inject({ method: 'DELETE', url: '/_sim/installations/501' })
  await settled(service)
  t.match((await ask(service, 5100)).json(), { state: 'active', deliver: true }, 'uninstalled: the old hook is the only one again')
})

t.test('refused: no secret, a wrong one, a hook the records do not name, a malformed id', async (t) => {
  const service = await serviceWithGitHub(t, world())
  const none = await ask(service, 5000, null)
  t.equal(none.statusCode, 401)
  t.equal(none.headers['www-authenticate'], 'Bearer realm="legacy-hooks"')
  t.equal((await ask(service, 5000, 'x'.repeat(TEST_RECEIVER_SECRET.length))).statusCode, 401)
  t.equal((await ask(service, 5000, 'short')).statusCode, 401)
  const unknown = await ask(service, 424242)
  t.equal(unknown.statusCode, 404)
  t.match(unknown.json(), { message: 'The legacy records name no hook 424242.' })
  for (const bad of ['abc', '0', '-1', '1e3', '99999999999999999999']) t.equal((await ask(service, bad)).statusCode, 400, bad)
})

t.test('off without a secret configured', async (t) => {
  const tdb = await testDatabase(t)
  const app = await testServer(t, tdb)
  const res = await app.inject({ url: '/legacy/hooks/5000', headers: { authorization: 'Bearer anything' } })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { message: /LEGACY_RECEIVER_SECRET/ })
})
