import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { PostgresSessionStore } from '../../src/db/session-store.js'
import { UNAVAILABLE } from '../../src/plugins/error-handler.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import type { ServerOptions } from '../../src/server.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'
import { testServer } from '../helpers/server.js'

declare module 'fastify' {
  interface Session {
    login?: string
  }
}

// Routes standing in for sign-in, a page, sign-out, a form post and GitHub's webhook.
async function app(t: Test, tdb: TestDatabase, overrides: Partial<ServerOptions> = {}): Promise<FastifyInstance> {
  const server = await testServer(t, tdb, overrides)
  server.get('/t/sign-in', async (request) => {
    await request.session.regenerate()
    request.session.set('login', 'mona')
    request.session.set('signedInAt', Date.now())
    return { ok: true }
  })
  server.get('/t/me', async (request, reply) => ({ login: request.session.get('login') ?? null, csrf: reply.generateCsrf() }))
  server.get('/t/sign-out', async (request) => {
    await request.session.destroy()
    return { ok: true }
  })
  server.get('/t/anonymous', async (request) => ({ login: request.session.get('login') ?? null }))
  server.post('/t/form', async () => ({ done: true }))
  return server
}

function sessionCookie(res: LightMyRequestResponse): string | undefined {
  return res.cookies.find((c) => c.name === SESSION_COOKIE)?.value
}

async function signIn(server: FastifyInstance): Promise<string> {
  const res = await server.inject({ url: '/t/sign-in' })
  return sessionCookie(res)!
}

async function me(server: FastifyInstance, cookie: string): Promise<{ login: string | null; csrf: string; cookie?: string }> {
  const res = await server.inject({ url: '/t/me', cookies: { [SESSION_COOKIE]: cookie } })
  return { ...res.json(), cookie: sessionCookie(res) }
}

async function rows(tdb: TestDatabase): Promise<number> {
  return (await tdb.db.selectFrom('app.session').select('sid').execute()).length
}

t.test('the cookie is HttpOnly, SameSite=Lax, and Secure outside local development', async (t) => {
  const tdb = await testDatabase(t)
  const local = await app(t, tdb)
  const res = await local.inject({ url: '/t/sign-in' })
  const cookie = res.cookies.find((c) => c.name === SESSION_COOKIE)!
  t.match(cookie, { httpOnly: true, sameSite: 'Lax', path: '/' })
  t.notOk(cookie.secure)
  const production = await app(t, tdb, { secureCookies: true, trustProxy: 1 })
  const secure = (await production.inject({ url: '/t/sign-in', headers: { 'x-forwarded-proto': 'https' } })).cookies.find((c) => c.name === SESSION_COOKIE)!
  t.equal(secure.secure, true)
})

t.test('behind a TLS-terminating proxy, the Secure cookie is set only when TRUST_PROXY names that proxy', async (t) => {
  const tdb = await testDatabase(t)
  const viaProxy = { url: '/t/sign-in', headers: { 'x-forwarded-proto': 'https' } }
  const named = await app(t, tdb, { secureCookies: true, trustProxy: ['10.0.0.0/8'] })
  const cookie = (await named.inject({ ...viaProxy, remoteAddress: '10.0.0.1' })).cookies.find((c) => c.name === SESSION_COOKIE)
  t.equal(cookie?.secure, true, 'through the proxy: https, and the cookie is set')
  // Someone else claiming https over plain http: the Secure cookie is never sent over http.
  t.equal(sessionCookie(await named.inject({ ...viaProxy, remoteAddress: '192.0.2.1' })), undefined)
  const unnamed = await app(t, tdb, { secureCookies: true })
  t.equal(sessionCookie(await unnamed.inject({ ...viaProxy, remoteAddress: '10.0.0.1' })), undefined, 'TRUST_PROXY unset: no proxy is believed')
})

t.test('sessions live in Postgres: another instance knows them, anonymous visits store nothing', async (t) => {
  const tdb = await testDatabase(t)
  const first = await app(t, tdb)
  await first.inject({ url: '/t/anonymous' })
  t.equal(await rows(tdb), 0, 'no session row for a visitor who did not sign in')
  const cookie = await signIn(first)
  t.equal(await rows(tdb), 1)
  const second = await app(t, tdb)
  t.equal((await me(second, cookie)).login, 'mona', 'a second instance (or a restart) reads it')
})

t.test('sign-in regenerates the session id; sign-out destroys the session', async (t) => {
  const tdb = await testDatabase(t)
  const server = await app(t, tdb)
  const before = sessionCookie(await server.inject({ url: '/t/me' }))
  const visitor = await server.inject({ url: '/t/sign-in', cookies: before ? { [SESSION_COOKIE]: before } : {} })
  const after = sessionCookie(visitor)!
  t.not(after, before)
  const again = await signIn(server)
  t.not(again, after, 'each sign-in gets a new id')
  await server.inject({ url: '/t/sign-out', cookies: { [SESSION_COOKIE]: again } })
  t.equal((await me(server, again)).login, null, 'the old cookie no longer signs anyone in')
})

t.test('an idle session ends; a busy one ends at the absolute timeout', async (t) => {
  const tdb = await testDatabase(t)
  const idle = await app(t, tdb, { sessionIdleTimeoutMs: 400, sessionAbsoluteTimeoutMs: 60_000 })
  const cookie = await signIn(idle)
  t.equal((await me(idle, cookie)).login, 'mona')
  await new Promise((r) => setTimeout(r, 600))
  t.equal((await me(idle, cookie)).login, null, 'idle too long')

  const busy = await app(t, tdb, { sessionIdleTimeoutMs: 60_000, sessionAbsoluteTimeoutMs: 500 })
  const token = await signIn(busy)
  for (let i = 0; i < 3; i++) {
    t.equal((await me(busy, token)).login, 'mona', 'still signed in')
    await new Promise((r) => setTimeout(r, 100))
  }
  await new Promise((r) => setTimeout(r, 400))
  t.equal((await me(busy, token)).login, null, 'signed out after the absolute timeout')
})

t.test('a POST without the CSRF token is refused; with it, it passes; webhooks are exempt', async (t) => {
  const tdb = await testDatabase(t)
  const server = await app(t, tdb)
  const cookie = await signIn(server)
  const refused = await server.inject({ method: 'POST', url: '/t/form', cookies: { [SESSION_COOKIE]: cookie }, payload: {} })
  t.equal(refused.statusCode, 403)
  const said = 'This form was not sent from a page of this service, or your session ended since the page was loaded. Reload the page and try again.'
  t.match(refused.body, said, 'said as a person can act on it, not as the plugin words it')
  const noSession = await server.inject({ method: 'POST', url: '/t/form', payload: {}, headers: { accept: 'application/json' } })
  t.equal(noSession.statusCode, 403)
  t.match(noSession.json(), { message: said }, 'with no session either')
  const { csrf, cookie: renewed } = await me(server, cookie)
  const accepted = await server.inject({
    method: 'POST',
    url: '/t/form',
    cookies: { [SESSION_COOKIE]: renewed ?? cookie },
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `_csrf=${encodeURIComponent(csrf)}`,
  })
  t.equal(accepted.statusCode, 200)
  t.same(accepted.json(), { done: true })
  const forged = await server.inject({ method: 'POST', url: '/t/form', cookies: { [SESSION_COOKIE]: cookie }, headers: { 'x-csrf-token': 'forged' } })
  t.equal(forged.statusCode, 403)
  t.match(forged.body, said)
  // GitHub signs its webhooks instead: no CSRF token is asked for (the route's own check answers).
  const webhook = await server.inject({ method: 'POST', url: '/github/webhooks', payload: {} })
  t.equal(webhook.statusCode, 400)
  t.match(webhook.json().error, 'X-GitHub-Delivery')
})

t.test("a failed request's answer does not save its session: the database going away while the error's page is sent leaves that page", async (t) => {
  const tdb = await testDatabase(t)
  const server = await app(t, tdb)
  server.get('/t/fails-as-the-database-goes', async (request) => {
    request.session.set('login', 'changed')
    // The session was read; now the database goes, and saving the session will fail.
    await sql`alter table app.session rename to session_gone`.execute(tdb.db)
    throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })
  })
  const cookie = await signIn(server)
  const res = await server.inject({ url: '/t/fails-as-the-database-goes', cookies: { [SESSION_COOKIE]: cookie } })
  await sql`alter table app.session_gone rename to session`.execute(tdb.db)
  t.equal(res.statusCode, 503)
  t.match(res.headers['content-type'], /^text\/html/)
  t.match(res.body, UNAVAILABLE)
  t.notMatch(res.body, /session_gone|does not exist|terminating/)
  t.equal(sessionCookie(res), undefined, 'no cookie renewed')
  t.equal((await me(server, cookie)).login, 'mona', 'what the failed request changed was not kept')
})

t.test('the store: expired sessions are not read, and prune removes them', async (t) => {
  const tdb = await testDatabase(t)
  let now = Date.parse('2026-01-01T00:00:00Z')
  const store = new PostgresSessionStore(tdb.db, () => now)
  const call = <T>(fn: (cb: (error: unknown, value?: T) => void) => void): Promise<T | undefined> =>
    new Promise((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))))
  const session = { cookie: { originalMaxAge: 1000, expires: new Date(now + 1000) }, login: 'mona' } as never
  await call((cb) => store.set('a', session, cb))
  await call((cb) => store.set('b', { cookie: { originalMaxAge: null } } as never, cb))
  t.match(await call((cb) => store.get('a', cb)), { login: 'mona' })
  now += 2000
  t.equal(await call((cb) => store.get('a', cb)), null, 'expired')
  t.equal(await store.prune(), 1, 'only the expired one')
  t.match(await call((cb) => store.get('b', cb)), { cookie: {} }, 'a cookie without expiry lives a day')
  await call((cb) => store.destroy('b', cb))
  t.equal(await call((cb) => store.get('b', cb)), null)
  await tdb.close()
  await t.rejects(call((cb) => store.get('b', cb)), 'a database error reaches the callback')
  await t.rejects(call((cb) => store.set('c', session, cb)))
  await t.rejects(call((cb) => store.destroy('c', cb)))
})

t.test('the store: a session read and saved unchanged is written again only once its expiry would move by more than touchAfterMs', async (t) => {
  const tdb = await testDatabase(t)
  let now = Date.parse('2026-01-01T00:00:00Z')
  const store = new PostgresSessionStore(tdb.db, () => now, 1000)
  const call = <T>(fn: (cb: (error: unknown, value?: T) => void) => void): Promise<T | undefined> =>
    new Promise((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))))
  const cookie = () => ({ originalMaxAge: 60_000, expires: new Date(now + 60_000) })
  const row = () => tdb.db.selectFrom('app.session').select(['sess', 'expire']).where('sid', '=', 'a').executeTakeFirstOrThrow()
  /** The session as the plugin hands it back after a request: read, its cookie renewed, changed or not. */
  const read = async (changes: Record<string, unknown> = {}) => {
    const stored = await call<Record<string, unknown>>((cb) => store.get('a', cb as never))
    return { ...stored, ...changes, cookie: cookie(), isModified: () => Object.keys(changes).length > 0 } as never
  }
  await call((cb) => store.set('a', { cookie: cookie(), login: 'mona' } as never, cb))
  const signedIn = (await row()).expire.getTime()

  now += 1000
  const soon = await read()
  await call((cb) => store.set('a', soon, cb))
  t.equal((await row()).expire.getTime(), signedIn, 'read a second later: nothing written')
  now += 1
  const unchanged = await read()
  await call((cb) => store.set('a', unchanged, cb))
  t.equal((await row()).expire.getTime(), now + 60_000, 'read once its expiry would move by more: written')
  t.same((await row()).sess, { cookie: { originalMaxAge: 60_000, expires: new Date(now + 60_000).toISOString() }, login: 'mona' }, 'nothing of the reading is stored')
  now += 10
  const changed = await read({ login: 'octocat' })
  await call((cb) => store.set('a', changed, cb))
  t.match((await row()).sess, { login: 'octocat' }, 'changed: written at once')
  t.equal((await row()).expire.getTime(), now + 60_000)
})
