import t from 'tap'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld } from '../helpers/simulator.js'

t.test('signed out: to sign-in first', async (t) => {
  const { app } = await serviceWithGitHub(t)
  const res = await app.inject({ url: '/migrate' })
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, '/auth/login')
})

t.test('mona sees one batch per owner, who enabled what, and what is gone', async (t) => {
  const { app, sim } = await serviceWithGitHub(t)
  const cookie = await signIn(app, sim, 1)
  const page = await app.inject({ url: '/migrate', cookies: { [SESSION_COOKIE]: cookie } })
  t.equal(page.statusCode, 200)
  const body = page.body
  t.match(body, /<h2 id="owner-1">mona/)
  t.match(body, /<h2 id="owner-100">acme/)
  t.match(body, /<h2 id="owner-101">widgets/)
  t.match(body, 'You can install the app here as an owner of the organization')
  t.match(body, 'you can ask its owners to install the app')
  t.match(body, /acme\/web \(private\) <span class="muted">enabled by hubot/)
  t.match(body, 'mona/new-name', 'the renamed repo by its name of today')
  t.match(body, 'The organization webhook (enabled by mona) moves with it')
  t.match(body, /No longer on GitHub[\s\S]*mona\/deleted-long-ago/)
  t.notMatch(body, /gho_|ghu_/, 'no token on the page')
})

t.test('octo, where acme shares nothing with members: others\' private repos counted, never named', async (t) => {
  const world = demoWorld()
  world.orgs!.find((o) => o.login === 'acme')!.default_repository_permission = 'none'
  const { app, sim } = await serviceWithGitHub(t, world)
  const cookie = await signIn(app, sim, 3)
  const body = (await app.inject({ url: '/migrate', cookies: { [SESSION_COOKIE]: cookie } })).body
  t.match(body, 'and 2 private repositories you cannot see, enabled by others')
  t.match(body, 'acme/vault')
  t.notMatch(body, /acme\/api|acme\/web/)
})

t.test('a revoked legacy token is explained, whether the records or GitHub say so', async (t) => {
  const { app, sim } = await serviceWithGitHub(t)
  const hubot = await signIn(app, sim, 2)
  const recorded = await app.inject({ url: '/migrate', cookies: { [SESSION_COOKIE]: hubot } })
  t.equal(recorded.statusCode, 200)
  t.match(recorded.body, 'Your legacy authorization was revoked')

  sim.state.revokeLegacyToken(sim.state.userByLogin('mona')!)
  const mona = await signIn(app, sim, 1)
  const live = await app.inject({ url: '/migrate', cookies: { [SESSION_COOKIE]: mona } })
  t.match(live.body, 'Your legacy authorization was revoked')
})

t.test('nothing to migrate: a clear page', async (t) => {
  const world = demoWorld()
  world.users.push({ id: 4, login: 'newbie', legacy_token: 'gho_legacy_newbie_0004', legacy_scopes: ['repo'] })
  const { app, sim, tdb } = await serviceWithGitHub(t, world)
  const unknown = await signIn(app, sim, 4)
  t.match((await app.inject({ url: '/migrate', cookies: { [SESSION_COOKIE]: unknown } })).body, 'Nothing to migrate')
  // Known to the legacy app, but nothing enabled that is still anyone's to migrate.
  await tdb.db.insertInto('legacy.oauth_users').values({ github_user_id: 4, login: 'newbie', oauth_token: 'gho_legacy_newbie_0004', scopes: 'repo' }).execute()
  const known = await signIn(app, sim, 4)
  t.match((await app.inject({ url: '/migrate', cookies: { [SESSION_COOKIE]: known } })).body, 'Nothing to migrate')
})

t.test('GitHub failing: a 500 page without internals', async (t) => {
  const { app, sim } = await serviceWithGitHub(t)
  const cookie = await signIn(app, sim, 1)
  sim.state.faults.errors = [{ method: 'GET', pattern: '/user/orgs', status: 502, rate: 1 }]
  const res = await app.inject({ url: '/migrate', cookies: { [SESSION_COOKIE]: cookie } })
  t.equal(res.statusCode, 500)
  t.notMatch(res.body, /502|Bad Gateway|user\/orgs/)
})
