import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify'
import t, { type Test } from 'tap'
import { connect } from '../../src/db/connect.js'
import { clientAddress } from '../../src/plugins/client-address.js'
import { errorHandlerPlugin } from '../../src/plugins/error-handler.js'
import { rateLimitPlugin } from '../../src/plugins/rate-limit.js'
import type { ServerOptions } from '../../src/server.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'
import { testServer } from '../helpers/server.js'

// The per-client limit on sign-in and the setup callback, as a client behind (or posing as)
// a proxy meets it: which address counts is decided by TRUST_PROXY alone, and the count lives
// in Postgres, so every instance of the service keeps the same one.

const SETUP = '/github/setup?setup_action=install'
const PROXY = '10.0.0.1'

async function limited(t: Test, tdb: TestDatabase, overrides: Partial<ServerOptions> = {}): Promise<FastifyInstance> {
  return testServer(t, tdb, { rateLimitPerMinute: 3, ...overrides })
}

/** The status codes of these requests, one after the other. */
async function statuses(app: FastifyInstance, requests: InjectOptions[]): Promise<number[]> {
  const codes: number[] = []
  for (const request of requests) codes.push((await app.inject({ url: SETUP, ...request })).statusCode)
  return codes
}

/** `n` requests from `remoteAddress`, each with an X-Forwarded-For of its own. */
function rotating(n: number, remoteAddress: string, forwardedFor: (i: number) => string): InjectOptions[] {
  return Array.from({ length: n }, (_, i) => ({ remoteAddress, headers: { 'x-forwarded-for': forwardedFor(i) } }))
}

t.test('with TRUST_PROXY unset, X-Forwarded-For is not believed: rotating it does not make a new client', async (t) => {
  const tdb = await testDatabase(t)
  const app = await limited(t, tdb)
  t.same(await statuses(app, rotating(5, '192.0.2.10', (i) => `198.51.100.${i}`)), [200, 200, 200, 429, 429])
  const refused = await app.inject({ url: SETUP, remoteAddress: '192.0.2.10', headers: { 'x-forwarded-for': '198.51.100.77', accept: 'text/html' } })
  t.equal(refused.statusCode, 429)
  t.match(refused.body, /Rate limit exceeded, retry in 1 minute/)
  t.ok(Number(refused.headers['retry-after']) > 0 && Number(refused.headers['retry-after']) <= 60, 'says when to come back')
  t.same(await statuses(app, [{ remoteAddress: '192.0.2.11' }]), [200], 'another address is another client')
})

t.test('with TRUST_PROXY=1, the address the proxy saw decides; what the client wrote before it does not', async (t) => {
  const tdb = await testDatabase(t)
  const app = await limited(t, tdb, { trustProxy: 1 })
  // The client writes its own X-Forwarded-For; the proxy appends the address it saw.
  t.same(await statuses(app, rotating(5, PROXY, (i) => `198.51.100.${i}, 203.0.113.7`)), [200, 200, 200, 429, 429])
  t.same(await statuses(app, [{ remoteAddress: PROXY, headers: { 'x-forwarded-for': '203.0.113.8' } }]), [200], 'another client behind the same proxy has its own limit')
  // One hop only: a second proxy's word is not taken, so "203.0.113.7, 10.9.9.9" is 10.9.9.9.
  t.same(await statuses(app, rotating(4, PROXY, (i) => `203.0.113.${i + 20}, 10.9.9.9`)), [200, 200, 200, 429])
})

t.test('with TRUST_PROXY as addresses, only those proxies are believed', async (t) => {
  const tdb = await testDatabase(t)
  const app = await limited(t, tdb, { trustProxy: ['10.0.0.0/8', '2001:db8::1'] })
  // Through the trusted proxies (a chain of two is walked back to the first untrusted hop).
  t.same(await statuses(app, rotating(3, PROXY, (i) => `198.51.100.${i}, 203.0.113.7, 10.0.0.2`)), [200, 200, 200])
  t.same(await statuses(app, [{ remoteAddress: '2001:db8::1', headers: { 'x-forwarded-for': '203.0.113.7' } }]), [429], 'the same client through the IPv6 proxy')
  // A client that is not one of them sending the header itself is counted as itself.
  t.same(await statuses(app, rotating(4, '192.0.2.10', (i) => `203.0.113.${i + 50}`)), [200, 200, 200, 429])
  t.same(await statuses(app, [{ remoteAddress: PROXY, headers: { 'x-forwarded-for': '203.0.113.50' } }]), [200], 'so the addresses it named were not charged')
})

t.test('two instances on one database share one limit', async (t) => {
  const tdb = await testDatabase(t)
  const first = await limited(t, tdb)
  const second = await limited(t, tdb)
  const from = { remoteAddress: '192.0.2.30' }
  t.same([...(await statuses(first, [from])), ...(await statuses(second, [from])), ...(await statuses(first, [from]))], [200, 200, 200])
  t.same(await statuses(second, [from]), [429], 'the fourth request, on the other instance, is over the limit')
  t.same(await statuses(first, [from]), [429])
  // Many at once, spread over both: exactly the limit gets through.
  const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? first : second).inject({ url: SETUP, remoteAddress: '192.0.2.31' })))
  t.equal(burst.filter((r) => r.statusCode === 200).length, 3, 'concurrent requests on two instances: three of twelve answered')
  t.equal(burst.filter((r) => r.statusCode === 429).length, 9)
})

t.test('each route counts on its own; pages that are not limited stay open', async (t) => {
  const tdb = await testDatabase(t)
  const app = await limited(t, tdb, { rateLimitPerMinute: 1 })
  const from = { remoteAddress: '192.0.2.40' }
  t.equal((await app.inject({ url: SETUP, ...from })).statusCode, 200)
  t.equal((await app.inject({ url: SETUP, ...from })).statusCode, 429)
  t.equal((await app.inject({ method: 'HEAD', url: SETUP, ...from })).statusCode, 429, 'HEAD, which runs the same handler, is no second allowance')
  t.equal((await app.inject({ url: '/auth/login', ...from })).statusCode, 302, 'sign-in has a count of its own')
  t.equal((await app.inject({ url: '/auth/login', ...from })).statusCode, 429)
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/', ...from })).statusCode, 200)
})

/** The plugin alone on one route, with windows of a few ms. */
async function bare(t: Test, db: TestDatabase['db'], windowMs: number, max = 2): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(errorHandlerPlugin)
  await app.register(rateLimitPlugin, { db, max, windowMs })
  app.get('/limited', { config: { rateLimit: {} } }, async () => ({ ok: true }))
  t.teardown(() => app.close())
  return app
}

t.test('a window ends and the client starts again; ended windows are pruned as new ones open', async (t) => {
  const tdb = await testDatabase(t)
  const app = await bare(t, tdb.db, 60_000)
  const hit = async (remoteAddress: string) => (await app.inject({ url: '/limited', remoteAddress })).statusCode
  const keys = async () => (await tdb.db.selectFrom('app.rate_limit').select('key').execute()).map((row) => row.key)
  t.same([await hit('192.0.2.1'), await hit('192.0.2.1'), await hit('192.0.2.1')], [200, 200, 429])
  t.equal(Number((await app.inject({ url: '/limited', remoteAddress: '192.0.2.1' })).headers['x-ratelimit-reset']), 60, 'the window is a minute')
  for (let i = 2; i < 30; i++) await hit(`192.0.2.${i}`)
  t.equal((await keys()).length, 29, 'a row per client')
  // A minute later, by the database's clock.
  await tdb.db.updateTable('app.rate_limit').set({ resets_at: new Date(Date.now() - 1000) }).execute()
  t.equal(await hit('192.0.2.1'), 200, 'a new window')
  t.equal(await hit('192.0.2.1'), 200)
  t.equal(await hit('192.0.2.1'), 429)
  const after = await keys()
  t.equal(after.length, 29 - 20, 'opening a window removed 20 ended ones')
  t.ok(after.includes('/limited 192.0.2.1'), 'not the one just opened')
  await hit('192.0.2.100')
  t.same((await keys()).sort(), ['/limited 192.0.2.1', '/limited 192.0.2.100'], 'the next one takes the rest')
})

t.test('without its database, a limited route answers 503 and says nothing about why', async (t) => {
  const unreachable = connect('postgres://nobody:secret@127.0.0.1:1/none', { max: 1 })
  t.teardown(() => unreachable.close())
  const app = await bare(t, unreachable.db, 60_000)
  const res = await app.inject({ url: '/limited', headers: { accept: 'application/json' } })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '5', 'and when to come back')
  t.notMatch(res.body, /ECONNREFUSED|secret|127\.0\.0\.1/)
})

t.test("a client's key: its address, IPv6 by its /64, anything else one 'unknown' client", async (t) => {
  const app = Fastify({ trustProxy: () => true })
  app.get('/who', async (request) => ({ client: clientAddress(request) }))
  t.teardown(() => app.close())
  const who = async (forwardedFor: string) => (await app.inject({ url: '/who', headers: { 'x-forwarded-for': forwardedFor } })).json<{ client: string }>().client
  t.equal(await who('203.0.113.9'), '203.0.113.9')
  t.equal(await who('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::')
  t.equal(await who('2001:db8:1:2:bbbb::7'), '2001:db8:1:2::', 'the same subscriber')
  t.equal(await who('::ffff:203.0.113.9'), '203.0.113.9')
  t.equal(await who('<script>'), 'unknown')
  t.equal(await who('x'.repeat(5000)), 'unknown')
})
