import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import type { Db } from '../src/db/connect.js'
import { redactUrl } from '../src/logger.js'
import { HttpError } from '../src/plugins/error-handler.js'
import { projectRoot } from '../src/project-root.js'
import { buildServer, type ServerOptions } from '../src/server.js'
import { testDatabase } from './helpers/database.js'
import { testServer } from './helpers/server.js'

interface Captured {
  lines: Record<string, unknown>[]
  text(): string
}

function captureLogs(): Captured & { write(line: string): void } {
  const raw: string[] = []
  return {
    write: (line: string) => void raw.push(line),
    get lines() {
      return raw.map((l) => JSON.parse(l) as Record<string, unknown>)
    },
    text: () => raw.join(''),
  }
}

const server = testServer

t.test('pages carry a CSP that allows styles and scripts only from this service', async (t) => {
  const tdb = await testDatabase(t)
  const app = await server(t, tdb)
  const res = await app.inject({ url: '/' })
  const csp = String(res.headers['content-security-policy'])
  t.match(csp, /(^|;)style-src 'self'(;|$)/)
  t.match(csp, /(^|;)script-src 'self'(;|$)/)
  t.notMatch(csp, /unsafe-inline/)
  // Forms may post here and be redirected to GitHub's install and settings pages, nowhere else.
  t.match(csp, /(^|;)form-action 'self' http:\/\/127\.0\.0\.1:9(;|$)/)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  // Over plain http, neither HSTS nor an upgrade of every subresource to https.
  t.equal(res.headers['strict-transport-security'], undefined)
  t.notMatch(csp, /upgrade-insecure-requests/)
})

t.test('https without a trusted proxy is said at start: sign-in could not set its cookie', async (t) => {
  const tdb = await testDatabase(t)
  const warned = captureLogs()
  await server(t, tdb, { secureCookies: true, publicUrl: 'https://migrate.example.com', logLevel: 'warn', logStream: warned })
  t.match(warned.text(), 'PUBLIC_URL is https but TRUST_PROXY is not set')
  const quiet = captureLogs()
  await server(t, tdb, { secureCookies: true, publicUrl: 'https://migrate.example.com', trustProxy: ['127.0.0.1'], logLevel: 'warn', logStream: quiet })
  t.notMatch(quiet.text(), 'TRUST_PROXY')
})

t.test('over https, browsers are told to stay on https', async (t) => {
  const tdb = await testDatabase(t)
  const app = await server(t, tdb, { secureCookies: true, publicUrl: 'https://migrate.example.com' })
  const res = await app.inject({ url: '/' })
  t.match(String(res.headers['strict-transport-security']), /max-age=31536000/)
  t.match(String(res.headers['content-security-policy']), /upgrade-insecure-requests/)
})

t.test('the landing page says what the service is, and links no staff page for a visitor', async (t) => {
  const tdb = await testDatabase(t)
  const closed = await server(t, tdb)
  const res = await closed.inject({ url: '/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html/)
  t.match(res.body, /legacy GitHub OAuth App/)
  t.match(res.body, /<link rel="stylesheet" href="\/assets\/app.css">/)
  t.notMatch(res.body, /\/staff\//)
})

t.test('the stylesheet is served from /assets/', async (t) => {
  const tdb = await testDatabase(t)
  const app = await server(t, tdb)
  const css = await app.inject({ url: '/assets/app.css' })
  t.equal(css.statusCode, 200)
  t.match(css.headers['content-type'], /^text\/css/)
  t.match(css.body, /@media/)
  const missing = await app.inject({ url: '/assets/missing.css' })
  t.equal(missing.statusCode, 404)
})

t.test('an unknown address gets a friendly 404 page that does not repeat the address', async (t) => {
  const tdb = await testDatabase(t)
  const app = await server(t, tdb)
  const res = await app.inject({ url: '/auth/nowhere?code=c0de-one-time&state=st4te' })
  t.equal(res.statusCode, 404)
  t.match(res.headers['content-type'], /^text\/html/)
  t.match(res.body, /404 · Not Found/)
  t.match(res.body, /There is no page at this address/)
  t.match(res.body, /href="\/"/)
  t.notMatch(res.body, /c0de-one-time|st4te/)

  const json = await app.inject({ url: '/nowhere', headers: { accept: 'application/json' } })
  t.equal(json.statusCode, 404)
  t.same(json.json(), { statusCode: 404, error: 'Not Found', message: 'There is no page at this address.' })

  const browser = await app.inject({ url: '/nowhere', headers: { accept: 'text/html,application/json;q=0.9' } })
  t.match(browser.headers['content-type'], /^text\/html/, 'a browser that also accepts JSON gets the page')
})

t.test("an address fastify's router refuses (too long a parameter, a malformed escape) is said so, without the address", async (t) => {
  const tdb = await testDatabase(t)
  const app = await server(t, tdb)
  const long = await app.inject({ url: `/migrate/batches/c0de-${'9'.repeat(200)}/before.csv` })
  t.equal(long.statusCode, 414)
  t.match(long.json(), { statusCode: 414, message: 'This address is longer than any page of this service.' })
  t.notMatch(long.body, /c0de/)
  const malformed = await app.inject({ url: '/migrate/batches/c0de%E0%A4%A/before.csv' })
  t.equal(malformed.statusCode, 400)
  t.match(malformed.json(), { statusCode: 400, message: 'This address is not well formed.' })
  t.notMatch(malformed.body, /c0de/)
})

t.test('a server fault shows a generic page with the request id, never the error', async (t) => {
  const tdb = await testDatabase(t)
  const logs = captureLogs()
  const app = await server(t, tdb, { logLevel: 'info', logStream: logs })
  app.get('/boom', async () => {
    throw new Error('relation "app.secret_table" does not exist at pg/lib/client.js:545')
  })

  const res = await app.inject({ url: '/boom' })
  t.equal(res.statusCode, 500)
  t.match(res.headers['content-type'], /^text\/html/)
  t.match(res.body, /500 · Internal Server Error/)
  t.match(res.body, /Something went wrong on our side/)
  t.notMatch(res.body, /secret_table|client\.js|at \S+:\d+/)
  const id = /Request id: <code>([0-9a-f-]{36})<\/code>/.exec(res.body)?.[1]
  t.ok(id, 'the page shows a request id')

  // The id on the page finds the error, with its detail, in the log.
  const logged = logs.lines.find((l) => l['reqId'] === id && l['msg'] === 'request failed')
  t.match(logged, { level: 50, err: { message: /secret_table/ } })

  const json = await app.inject({ url: '/boom', headers: { accept: 'application/json' } })
  t.equal(json.statusCode, 500)
  const body = json.json() as Record<string, unknown>
  t.match(body, { statusCode: 500, error: 'Internal Server Error', message: /Something went wrong/, requestId: /^[0-9a-f-]{36}$/ })
  t.notMatch(json.body, /secret_table|stack/)
})

t.test('closing while a request is under way: it is answered, and closing does not wait out its keep-alive', async (t) => {
  const tdb = await testDatabase(t)
  const app = await server(t, tdb)
  let entered!: () => void
  const inHandler = new Promise<void>((resolve) => (entered = resolve))
  app.get('/slow', async () => {
    entered()
    // Answered once the server has stopped listening: closing has begun and reaped the idle
    // connections, so this one is left to what the answer says.
    while (app.server.listening) await new Promise((resolve) => setTimeout(resolve, 5))
    return { done: true }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const answer = fetch(`http://127.0.0.1:${port}/slow`)
  await inHandler
  const closed = app.close()
  const res = await answer
  t.same(await res.json(), { done: true }, 'the request under way is answered')
  // Left open, the connection holds closing for keepAliveTimeout (72 s).
  let timer: NodeJS.Timeout | undefined
  const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((resolve) => (timer = setTimeout(() => resolve('still closing after 20 s'), 20_000)))])
  clearTimeout(timer)
  t.equal(outcome, 'closed')
})

t.test('a refused request shows its reason, escaped, as a page or as JSON', async (t) => {
  const tdb = await testDatabase(t)
  const app = await server(t, tdb)
  app.get('/conflict', async () => {
    throw new HttpError(409, 'This batch is already being installed by <b>mona</b>.')
  })
  app.get('/unusual', async () => {
    throw new HttpError(499, 'The client went away.')
  })

  const res = await app.inject({ url: '/conflict' })
  t.equal(res.statusCode, 409)
  t.match(res.body, /409 · Conflict/)
  t.match(res.body, /already being installed by &lt;b&gt;mona&lt;\/b&gt;/)
  t.notMatch(res.body, /<b>mona/)
  t.notMatch(res.body, /Request id/, 'no request id on a page that is not our fault')

  const json = await app.inject({ url: '/conflict', headers: { accept: 'application/json' } })
  t.same(json.json(), { statusCode: 409, error: 'Conflict', message: 'This batch is already being installed by <b>mona</b>.' })

  const unusual = await app.inject({ url: '/unusual' })
  t.equal(unusual.statusCode, 499)
  t.match(unusual.body, /499 · Error/)
  t.match(unusual.body, /The client went away/)
})

t.test('invalid form input is answered with fastify\'s reason, and forms are parsed', async (t) => {
  const tdb = await testDatabase(t)
  const app = await server(t, tdb)
  app.post<{ Body: { login: string } }>(
    '/form',
    { schema: { body: { type: 'object', properties: { login: { type: 'string', minLength: 1 } }, required: ['login'] } } },
    async (request) => ({ hello: request.body.login }),
  )
  app.get('/form', async (_request, reply) => ({ csrf: reply.generateCsrf() }))
  const form = await app.inject({ url: '/form' })
  const cookies = Object.fromEntries(form.cookies.map((c) => [c.name, c.value]))
  const payload = `login=mona&_csrf=${encodeURIComponent(form.json().csrf)}`
  const ok = await app.inject({ method: 'POST', url: '/form', payload, cookies, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.same(ok.json(), { hello: 'mona' })
  const bad = await app.inject({ method: 'POST', url: '/form', payload: 'name=mona', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /400 · Bad Request/)
  t.match(bad.body, /must have required property &#39;login&#39;/)
})

t.test('the database is on the app for routes to use', async (t) => {
  const tdb = await testDatabase(t)
  const app = await server(t, tdb)
  t.equal(app.db, tdb.db)
})

t.test('logs never hold an OAuth code, state, token, cookie or authorization header', async (t) => {
  const tdb = await testDatabase(t)
  const logs = captureLogs()
  const app = await server(t, tdb, { logLevel: 'info', logStream: logs })
  app.get('/echo-headers', async (request) => {
    // The kind of line someone adds while debugging.
    request.log.info({ headers: request.headers }, 'headers')
    return { ok: true }
  })
  app.get('/outgoing', async (request) => {
    request.log.info({ req: { method: 'POST', url: '/login/oauth/access_token?code=c0de-by-hand&client_secret=s3cret' } }, 'calling GitHub')
    return { ok: true }
  })

  await app.inject({ url: '/auth/callback?code=c0de-one-time&state=st4te-value&installation_id=42' })
  await app.inject({ url: '/anything?access_token=gho_t0ken&token=ghs_t0ken2&page=2' })
  await app.inject({ url: '/echo-headers', headers: { authorization: 'token gho_auth0rization', cookie: 'session=s3ssion-id' } })
  await app.inject({ url: '/outgoing' })

  const text = logs.text()
  for (const secret of ['c0de-one-time', 'st4te-value', 'gho_t0ken', 'ghs_t0ken2', 'gho_auth0rization', 's3ssion-id', 'c0de-by-hand', 's3cret']) {
    t.notOk(text.includes(secret), `${secret} is not logged`)
  }
  // What is not secret stays, so the lines remain useful.
  t.ok(logs.lines.some((l) => (l['req'] as { url?: string } | undefined)?.url === '/auth/callback?code=[Redacted]&state=[Redacted]&installation_id=42'))
  t.ok(logs.lines.some((l) => (l['req'] as { url?: string } | undefined)?.url === '/anything?access_token=[Redacted]&token=[Redacted]&page=2'))
  const headers = logs.lines.find((l) => l['msg'] === 'headers')?.['headers'] as Record<string, string>
  t.equal(headers['authorization'], '[Redacted]')
  t.equal(headers['cookie'], '[Redacted]')
  t.equal(headers['user-agent'], 'lightMyRequest')
})

t.test('redactUrl hides secret parameter values however they are spelled', async (t) => {
  t.equal(redactUrl('/auth/callback'), '/auth/callback')
  t.equal(redactUrl('/x?page=2&q=mona'), '/x?page=2&q=mona')
  t.equal(redactUrl('/x?CODE=abc'), '/x?CODE=[Redacted]')
  t.equal(redactUrl('/x?c%6Fde=abc&st%61te=def'), '/x?c%6Fde=[Redacted]&st%61te=[Redacted]')
  t.equal(redactUrl('/x?code'), '/x?code=[Redacted]', 'a bare name')
  t.equal(redactUrl('/x?code=a=b&x=1'), '/x?code=[Redacted]&x=1')
  t.equal(redactUrl('/x?%E0%A4%A=1&code=abc'), '/x?%E0%A4%A=1&code=[Redacted]', 'a malformed escape is kept, and parsing goes on')
  t.equal(redactUrl('/x?access+token=1&refresh_token=r'), '/x?access+token=1&refresh_token=[Redacted]')
})

t.test('templates are found from the project root, wherever the module runs from', async (t) => {
  const root = projectRoot()
  t.equal(root, path.resolve(import.meta.dirname, '..'))
  t.equal(projectRoot(pathToFileURL(path.join(root, 'dist', 'src', 'project-root.js'))), root, 'from the compiled module')

  const outside = await mkdtemp(path.join(tmpdir(), 'no-project-'))
  t.teardown(() => rm(outside, { recursive: true, force: true }))
  t.throws(() => projectRoot(pathToFileURL(path.join(outside, 'server.js'))), /no package\.json above/)
})

t.test('sign-in and the setup callback are rate limited per client; other pages are not', async (t) => {
  const tdb = await testDatabase(t)
  const app = await server(t, tdb, { rateLimitPerMinute: 2 })
  for (let i = 0; i < 2; i++) t.equal((await app.inject({ url: '/github/setup?setup_action=install' })).statusCode, 200)
  const limited = await app.inject({ url: '/github/setup?setup_action=install', headers: { accept: 'text/html' } })
  t.equal(limited.statusCode, 429)
  t.match(limited.body, /Rate limit exceeded, retry in 1 minute/)
  t.ok(Number(limited.headers['retry-after']) > 0)
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
})
