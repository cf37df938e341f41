import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'
import { testServer } from '../helpers/server.js'
import { codeFor, sessionCookieOf, startSignIn } from '../helpers/sign-in.js'
import { startSimulator, type StartedSimulator } from '../helpers/simulator.js'

const PUBLIC_URL = 'http://localhost:3000'

async function setup(t: Test, options: { logLines?: string[] } = {}): Promise<{ app: FastifyInstance; sim: StartedSimulator; tdb: TestDatabase }> {
  const sim = await startSimulator(t)
  const tdb = await testDatabase(t)
  const world = sim.state.app
  const app = await testServer(t, tdb, {
    publicUrl: PUBLIC_URL,
    github: {
      webUrl: sim.url,
      apiUrl: sim.apiUrl,
      appId: world.id,
      appSlug: world.slug,
      clientId: world.client_id,
      clientSecret: world.client_secret,
      privateKey: sim.privateKey,
      webhookSecret: world.webhook_secret,
    },
    ...(options.logLines ? { logLevel: 'debug', logStream: { write: (line: string) => void options.logLines!.push(line) } } : {}),
  })
  return { app, sim, tdb }
}

const cookieOf = sessionCookieOf

async function audit(tdb: TestDatabase) {
  return tdb.db.selectFrom('app.audit_event').selectAll().orderBy('id').execute()
}

t.test('sign-in: to GitHub with state and PKCE, back with a new session, recorded', async (t) => {
  const logLines: string[] = []
  const { app, sim, tdb } = await setup(t, { logLines })
  const login = await app.inject({ url: '/auth/login' })
  t.equal(login.statusCode, 302)
  const to = new URL(login.headers.location as string)
  t.equal(`${to.origin}${to.pathname}`, `${sim.url}/login/oauth/authorize`)
  t.match(Object.fromEntries(to.searchParams), {
    client_id: sim.state.app.client_id,
    redirect_uri: `${PUBLIC_URL}/auth/callback`,
    state: /^[A-Za-z0-9_-]{43}$/,
    code_challenge: /^[A-Za-z0-9_-]{43}$/,
    code_challenge_method: 'S256',
  })

  const { cookie, state, code } = await startSignIn(app, sim)
  const back = await app.inject({ url: `/auth/callback?code=${code}&state=${state}`, cookies: { [SESSION_COOKIE]: cookie } })
  t.equal(back.statusCode, 302)
  t.equal(back.headers.location, '/migrate')
  const signedIn = cookieOf(back)!
  t.not(signedIn, cookie, 'the session id changes at sign-in')
  const home = await app.inject({ url: '/', cookies: { [SESSION_COOKIE]: signedIn } })
  t.match(home.body, /Signed in as <strong>mona<\/strong>/)
  const old = await app.inject({ url: '/', cookies: { [SESSION_COOKIE]: cookie } })
  t.notMatch(old.body, 'Signed in as', 'the pre-sign-in session id signs no one in')

  t.match(await audit(tdb), [{ actor_kind: 'user', actor_github_id: 1, actor_login: 'mona', action: 'sign_in', outcome: 'ok', request_id: String }])
  const everything = JSON.stringify(await audit(tdb)) + logLines.join('') + JSON.stringify(await tdb.db.selectFrom('app.session').selectAll().execute())
  t.notMatch(everything, /ghu_|ghr_/, 'no user token stored, logged or audited')
  t.notMatch(everything, code, 'no OAuth code either')
  t.notMatch(logLines.join(''), signedIn.split('.')[0]!, 'nor the session id')
})

t.test('a replayed, forged, missing or stale state changes nothing', async (t) => {
  const { app, sim, tdb } = await setup(t)
  const { cookie, state, code } = await startSignIn(app, sim)
  const forged = await app.inject({ url: `/auth/callback?code=${code}&state=forged-${state}`, cookies: { [SESSION_COOKIE]: cookie } })
  t.equal(forged.statusCode, 400)
  t.match(forged.body, 'expired or was already used')
  const twice = await app.inject({ url: `/auth/callback?code=${code}&state=${state}&state=${state}`, cookies: { [SESSION_COOKIE]: cookie } })
  t.equal(twice.statusCode, 400, 'the state twice')
  t.match(twice.body, 'expired or was already used')
  // A state this session never started spends none it did (another tab may be under way) ...
  const real = await app.inject({ url: `/auth/callback?code=${code}&state=${state}`, cookies: { [SESSION_COOKIE]: cookie } })
  t.equal(real.statusCode, 302)
  // ... and each is spent by its one use.
  const replay = await app.inject({ url: `/auth/callback?code=${code}&state=${state}`, cookies: { [SESSION_COOKIE]: cookieOf(real)! } })
  t.equal(replay.statusCode, 400)
  const noSession = await app.inject({ url: `/auth/callback?code=${code}&state=${state}` })
  t.equal(noSession.statusCode, 400)

  const again = await startSignIn(app, sim)
  const noState = await app.inject({ url: `/auth/callback?code=${again.code}`, cookies: { [SESSION_COOKIE]: again.cookie } })
  t.equal(noState.statusCode, 400)

  const stale = await startSignIn(app, sim)
  await sql`update app.session set sess = jsonb_set(sess::jsonb, array['oauth', ${stale.state}, 'startedAt'], '0')::json`.execute(tdb.db)
  const late = await app.inject({ url: `/auth/callback?code=${stale.code}&state=${stale.state}`, cookies: { [SESSION_COOKIE]: stale.cookie } })
  t.equal(late.statusCode, 400, 'a sign-in started more than ten minutes ago')
  t.match(await audit(tdb), [{ action: 'sign_in' }], 'nobody signed in but with the real state, once')
  t.equal((await audit(tdb)).length, 1)
})

t.test('cancelled on GitHub, no code, or a code GitHub refuses: a clear page, nobody signed in', async (t) => {
  const { app, sim, tdb } = await setup(t)
  const cancelled = await startSignIn(app, sim)
  const denied = await app.inject({ url: `/auth/callback?error=access_denied&state=${cancelled.state}`, cookies: { [SESSION_COOKIE]: cancelled.cookie } })
  t.equal(denied.statusCode, 400)
  t.match(denied.body, 'You cancelled the sign-in on GitHub')

  const noCode = await startSignIn(app, sim)
  const empty = await app.inject({ url: `/auth/callback?code=&state=${noCode.state}`, cookies: { [SESSION_COOKIE]: noCode.cookie } })
  t.match(empty.body, 'GitHub sent no authorization code')

  const refused = await startSignIn(app, sim)
  const bad = await app.inject({ url: `/auth/callback?code=not-a-code&state=${refused.state}`, cookies: { [SESSION_COOKIE]: refused.cookie } })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, 'GitHub did not accept this sign-in')
  t.same(await audit(tdb), [])
})

t.test('GitHub unreachable or failing during sign-in: a page that says so, nobody signed in, never a 5xx', async (t) => {
  const { app, sim } = await setup(t)
  // GitHub answers the exchange, then fails "who are you?".
  sim.state.faults.errors = [{ method: 'GET', pattern: '/user', status: 502, rate: 1 }]
  const failing = await startSignIn(app, sim)
  const who = await app.inject({ url: `/auth/callback?code=${failing.code}&state=${failing.state}`, cookies: { [SESSION_COOKIE]: failing.cookie } })
  t.equal(who.statusCode, 200)
  t.match(who.body, 'GitHub did not answer while we asked who you are. Nothing was changed: try again in a moment.')
  t.match(who.body, 'href="/auth/login"')
  t.equal((await app.inject({ url: '/migrate', cookies: { [SESSION_COOKIE]: cookieOf(who) ?? failing.cookie } })).headers.location, '/auth/login', 'not signed in')

  // GitHub not there at all.
  const pending = await startSignIn(app, sim)
  await sim.close()
  const res = await app.inject({ url: `/auth/callback?code=${pending.code}&state=${pending.state}`, cookies: { [SESSION_COOKIE]: pending.cookie } })
  t.equal(res.statusCode, 200)
  t.match(res.body, 'GitHub did not answer while we finished your sign-in.')
  t.notMatch(res.body, /ECONNREFUSED|fetch failed/)
})

t.test('sign-out ends the session and is recorded', async (t) => {
  const { app, sim, tdb } = await setup(t)
  app.get('/t/csrf', async (_request, reply) => ({ csrf: reply.generateCsrf() }))
  const { cookie, state, code } = await startSignIn(app, sim)
  const signedIn = cookieOf(await app.inject({ url: `/auth/callback?code=${code}&state=${state}`, cookies: { [SESSION_COOKIE]: cookie } }))!
  const home = await app.inject({ url: '/', cookies: { [SESSION_COOKIE]: signedIn } })
  const csrf = /name="_csrf" value="([^"]+)"/.exec(home.body)![1]!
  const current = cookieOf(home) ?? signedIn
  const out = await app.inject({ method: 'POST', url: '/auth/logout', cookies: { [SESSION_COOKIE]: current }, payload: { _csrf: csrf } })
  t.equal(out.statusCode, 302)
  const after = await app.inject({ url: '/', cookies: { [SESSION_COOKIE]: current } })
  t.match(after.body, 'Sign in with GitHub')
  t.match(await audit(tdb), [{ action: 'sign_in' }, { action: 'sign_out', actor_login: 'mona' }])

  // A visitor's sign-out (a form from before the session ended) records nothing.
  const visitor = await app.inject({ url: '/t/csrf' })
  const visitorOut = await app.inject({ method: 'POST', url: '/auth/logout', cookies: { [SESSION_COOKIE]: cookieOf(visitor)! }, payload: { _csrf: visitor.json().csrf } })
  t.equal(visitorOut.statusCode, 302)
  t.equal((await audit(tdb)).length, 2)
})

t.test('sign-in deletes the session it replaces, and a request still under way with it cannot bring it back', async (t) => {
  const { app, sim, tdb } = await setup(t)
  // A page another tab asked for just before the sign-in finished, answered just after it.
  let release!: () => void
  const held = new Promise<void>((resolve) => (release = resolve))
  let loaded!: () => void
  const hasLoaded = new Promise<void>((resolve) => (loaded = resolve))
  app.get('/t/slow', async () => {
    loaded()
    await held
    return { ok: true }
  })
  const sids = async () => (await tdb.db.selectFrom('app.session').select('sid').execute()).map((r) => r.sid).sort()
  const sidOf = (cookie: string) => decodeURIComponent(cookie).split('.')[0]!
  const signInFrom = async (cookie: string, userId: number): Promise<{ cookie: string; authorize: URL }> => {
    const login = await app.inject({ url: '/auth/login', cookies: { [SESSION_COOKIE]: cookie } })
    const authorize = new URL(login.headers.location as string)
    const slow = app.inject({ url: '/t/slow', cookies: { [SESSION_COOKIE]: cookie } })
    await hasLoaded
    const back = await app.inject({ url: `/auth/callback?code=${codeFor(sim, authorize, userId)}&state=${authorize.searchParams.get('state')}`, cookies: { [SESSION_COOKIE]: cookie } })
    release()
    await slow
    return { cookie: cookieOf(back)!, authorize }
  }

  const visitor = cookieOf(await app.inject({ url: '/auth/login' }))!
  const { cookie: mona, authorize } = await signInFrom(visitor, 1)
  t.same(await sids(), [sidOf(mona)], "after sign-in, only mona's new session is stored")
  const again = `/auth/callback?code=${codeFor(sim, authorize, 1)}&state=${authorize.searchParams.get('state')}`
  t.equal((await app.inject({ url: again, cookies: { [SESSION_COOKIE]: visitor } })).statusCode, 400, 'the pre-sign-in session is gone for good, and its spent state with it')

  // Signed in, someone signs in again as octo in the same browser.
  loaded = () => {}
  const { cookie: octo } = await signInFrom(mona, 3)
  t.not(sidOf(octo), sidOf(mona))
  t.same(await sids(), [sidOf(octo)], "mona's session is gone with it")
  t.notMatch((await app.inject({ url: '/', cookies: { [SESSION_COOKIE]: mona } })).body, 'Signed in as', "mona's old cookie signs no one in")
  t.match((await app.inject({ url: '/', cookies: { [SESSION_COOKIE]: octo } })).body, 'Signed in as <strong>octo</strong>')
})
