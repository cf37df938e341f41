import t from 'tap'
import { sql } from 'kysely'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { withScopes } from '../helpers/scoped-world.js'
import { serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld } from '../helpers/simulator.js'
import { csrfOf, press, view } from '../helpers/wizard.js'

/** The part of /migrate about one owner. */
function section(body: string, owner: string): string {
  const start = body.indexOf(`id="owner-${owner}"`)
  if (start < 0) throw new Error(`no batch for ${owner}`)
  return body.slice(start, body.indexOf('</section>', start))
}

t.test('signed out: to sign-in first', async (t) => {
  const { app } = await serviceWithGitHub(t)
  const res = await app.inject({ url: '/migrate' })
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, '/auth/login')
})

t.test('mona sees one batch per owner, her role there, who enabled what, and what is gone', async (t) => {
  // Her role in each org is GitHub's answer to read:org, the scope the vendor would have asked
  // for; the demo world's token lacks it (the unknown role: test/routes/wizard-token-faults.test.ts).
  const { app, sim } = await serviceWithGitHub(t, withScopes({ mona: ['read:org'] }))
  const cookie = await signIn(app, sim, 1)
  const page = await view(app, cookie)
  t.equal(page.statusCode, 200)
  const body = page.body
  t.match(body, /<h2 id="owner-1">mona <span class="id">account<\/span>/)
  t.match(body, /<h2 id="owner-100">acme <span class="id">organization<\/span>/)
  t.match(body, /<h2 id="owner-101">widgets <span class="id">organization<\/span>/)
  t.ok(body.indexOf('id="owner-mona"') < body.indexOf('id="owner-acme"') && body.indexOf('id="owner-acme"') < body.indexOf('id="owner-widgets"'), 'her own account first, then by login')

  const mona = section(body, 'mona')
  t.match(mona, 'Install the App; GitHub shows these repositories already selected.')
  t.match(mona, 'Install on mona')
  t.match(mona, /mona\/dotfiles\s*<span class="muted">enabled by mona/)
  t.match(mona, /mona\/site \(private\)\s*<span class="muted">enabled by mona/)
  t.match(mona, 'mona/new-name', 'the renamed repo by its name of today')
  t.notMatch(mona, 'old-name')

  const acme = section(body, 'acme')
  t.match(acme, 'Install on acme', 'an owner of the organization installs')
  t.match(acme, /acme\/web \(private\)\s*<span class="muted">enabled by hubot/, 'enabled by someone else: said who')
  t.match(acme, /acme\/api \(private\)\s*<span class="muted">enabled by mona/)
  t.match(acme, 'The organization webhook (enabled by mona) moves with it')

  const widgets = section(body, 'widgets')
  t.match(widgets, 'You are a member of widgets: GitHub sends your request to its owners, who approve it.')
  t.match(widgets, 'Ask the owners of widgets')
  t.notMatch(widgets, 'Install on widgets', 'a member requests, never installs')
  t.match(widgets, /widgets\/core\s*<span class="muted">enabled by octo/)

  t.match(body, /No longer on GitHub[\s\S]*mona\/deleted-long-ago/)
  t.notMatch(body, /gh[opsur]_/, 'no token on the page')
})

t.test("octo, where acme shares nothing with members: others' private repos counted, never named", async (t) => {
  const world = demoWorld()
  world.orgs!.find((o) => o.login === 'acme')!.default_repository_permission = 'none'
  const { app, sim } = await serviceWithGitHub(t, world)
  const cookie = await signIn(app, sim, 3)
  const body = (await view(app, cookie)).body
  t.match(body, 'and 2 private repositories you cannot see, enabled by others')
  t.match(body, 'acme/vault')
  t.notMatch(body, /acme\/api|acme\/web/)
})

t.test('a revoked legacy token is explained, whether the records or GitHub say so, on planning and on planning again', async (t) => {
  const { app, sim, tdb } = await serviceWithGitHub(t)
  const hubot = await signIn(app, sim, 2)
  const recorded = await view(app, hubot)
  t.equal(recorded.statusCode, 200)
  t.match(recorded.body, 'Your legacy authorization was revoked')

  const mona = await signIn(app, sim, 1)
  t.match((await view(app, mona)).body, 'Install on mona', 'planned while the token worked')
  sim.state.revokeLegacyToken(sim.state.userByLogin('mona')!)
  t.equal((await press(app, mona, '/migrate/refresh')).statusCode, 303)
  const again = (await view(app, mona)).body
  t.match(again, 'Your legacy authorization was revoked: GitHub no longer accepts', 'GitHub says so when planning again')
  t.match(again, 'Install on mona', 'what was planned is still there')
  await tdb.db.updateTable('legacy.oauth_users').set({ oauth_token: null }).where('github_user_id', '=', 1).execute()
  await press(app, mona, '/migrate/refresh')
  t.match((await view(app, mona)).body, 'Your legacy authorization was revoked', 'the records say so')

  const octo = await signIn(app, sim, 3)
  sim.state.revokeLegacyToken(sim.state.userByLogin('octo')!)
  const live = await view(app, octo)
  t.match(live.body, 'Your legacy authorization was revoked', 'GitHub says so at the first planning')
})

t.test('nothing to migrate: a clear page', async (t) => {
  const world = demoWorld()
  world.users.push({ id: 4, login: 'newbie', legacy_token: 'gho_legacy_newbie_0004', legacy_scopes: ['repo'] })
  const { app, sim, tdb } = await serviceWithGitHub(t, world)
  const unknown = await signIn(app, sim, 4)
  t.match((await view(app, unknown)).body, 'Nothing to migrate')
  // Known to the legacy app, but nothing enabled that is still anyone's to migrate.
  await tdb.db.insertInto('legacy.oauth_users').values({ github_user_id: 4, login: 'newbie', oauth_token: 'gho_legacy_newbie_0004', scopes: 'repo' }).execute()
  const known = await signIn(app, sim, 4)
  const page = (await view(app, known)).body
  t.match(page, 'Nothing to migrate')
  const again = await app.inject({ method: 'POST', url: '/migrate/refresh', cookies: { [SESSION_COOKIE]: known }, payload: { _csrf: csrfOf(page) } })
  t.equal(again.statusCode, 303)
  t.match((await view(app, known)).body, 'Nothing to migrate', 'planning again finds nothing either')
  await tdb.db.deleteFrom('legacy.oauth_users').where('github_user_id', '=', 4).execute()
  const gone = await app.inject({ method: 'POST', url: '/migrate/refresh', cookies: { [SESSION_COOKIE]: known }, payload: { _csrf: csrfOf(page) } })
  t.equal(gone.statusCode, 303)
  t.match((await view(app, known)).body, 'Nothing to migrate', 'nor once the legacy records forget the user')
})

t.test('GitHub failing: the page says what it could not learn, and no page is a 5xx', async (t) => {
  // GitHub checks scopes before anything can fail: the list of her organizations answers (or
  // fails) only for a token with read:org.
  const { app, sim } = await serviceWithGitHub(t, withScopes({ mona: ['read:org'] }))
  const cookie = await signIn(app, sim, 1)
  sim.state.faults.errors = [
    { method: 'GET', pattern: '/user/orgs', status: 502, rate: 1 },
    { method: 'GET', pattern: '/orgs/{org}/installation', status: 500, rate: 1 },
  ]
  const res = await view(app, cookie)
  t.equal(res.statusCode, 200)
  t.match(res.body, 'GitHub did not answer for the list of your organizations (HTTP 502): look again in a moment. Your organizations are found from the repositories it can see instead.')
  t.match(section(res.body, 'acme'), 'GitHub did not say whether the App is installed on acme: look again in a moment.')
  t.match(section(res.body, 'acme'), 'Install on acme', 'the next step is still offered')
  t.notMatch(res.body, /Bad Gateway|user\/orgs|orgs\/acme\/installation/)

  // Looking again once GitHub answers: nothing left to say.
  sim.state.faults.errors = []
  t.equal((await press(app, cookie, '/migrate/refresh')).statusCode, 303)
  const again = (await view(app, cookie)).body
  t.notMatch(again, /did not answer|did not say/)
})

t.test('a session that has lost its user: POSTs ask to sign in again', async (t) => {
  const { app, sim, tdb } = await serviceWithGitHub(t)
  const cookie = await signIn(app, sim, 1)
  const csrf = csrfOf((await view(app, cookie)).body)
  // What remains of a session whose sign-in is gone: the CSRF secret, no user.
  await sql`update app.session set sess = (sess::jsonb - 'user')::json`.execute(tdb.db)
  for (const url of ['/migrate/refresh', '/migrate/batches/1/install', '/migrate/batches/1/add', '/migrate/batches/1/check']) {
    const res = await app.inject({ method: 'POST', url, cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrf } })
    t.equal(res.statusCode, 401, url)
    t.match(res.body, 'Your session has ended. Please sign in again.')
  }
})

t.test('a page that explains why there is no plan is the whole answer: nothing runs after it', async (t) => {
  const lines: string[] = []
  const world = demoWorld()
  world.users.push({ id: 4, login: 'newbie', legacy_token: 'gho_legacy_newbie_0004', legacy_scopes: ['repo'] })
  const { app, sim } = await serviceWithGitHub(t, world, { logLevel: 'warn', logStream: { write: (line: string) => void lines.push(line) } })
  const newbie = await signIn(app, sim, 4)
  t.match((await view(app, newbie)).body, 'Nothing to migrate')
  const hubot = await signIn(app, sim, 2)
  t.match((await view(app, hubot)).body, 'Your legacy authorization was revoked')
  t.same(lines, [], 'no error logged behind the page')
})
