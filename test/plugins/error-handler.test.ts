import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { errorHandlerPlugin, HttpError, RETRY_AFTER_SECONDS, UNAVAILABLE } from '../../src/plugins/error-handler.js'
import { viewsPlugin } from '../../src/plugins/views.js'

// The database away (a restart, a crash, a failover) is a passing 503 that says when to come
// back; any other fault stays a 500; neither shows what went wrong inside.

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL', routine: 'ProcessInterrupts' })

async function app(t: Test, throws: Record<string, () => unknown>): Promise<FastifyInstance> {
  const server = Fastify()
  await server.register(viewsPlugin, { defaultContext: { title: 'test' } })
  await server.register(errorHandlerPlugin)
  for (const [path, fail] of Object.entries(throws)) {
    server.get(path, async () => {
      throw fail()
    })
  }
  t.teardown(() => server.close())
  return server
}

t.test('the database away: 503 with Retry-After and a page that says to try again, nothing of the error', async (t) => {
  const server = await app(t, {
    '/shutdown': () => pgError('57P01', 'terminating connection due to administrator command'),
    '/starting': () => pgError('57P03', 'the database system is starting up'),
    '/refused': () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    '/lost': () => new Error('Connection terminated unexpectedly'),
    '/wrapped': () => new HttpError(503, 'the rate limit store failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }) }),
  })
  for (const url of ['/shutdown', '/starting', '/refused', '/lost', '/wrapped']) {
    const page = await server.inject({ url })
    t.equal(page.statusCode, 503, url)
    t.equal(page.headers['retry-after'], String(RETRY_AFTER_SECONDS))
    t.match(page.headers['content-type'], /^text\/html/)
    t.match(page.body, UNAVAILABLE)
    t.match(page.body, /Request id: <code>[\w-]+<\/code>/)
    t.notMatch(page.body, /ECONNREFUSED|127\.0\.0\.1|terminat|starting up|rate limit store|57P0/)
  }
  const json = await server.inject({ url: '/shutdown', headers: { accept: 'application/json' } })
  t.equal(json.statusCode, 503)
  t.equal(json.headers['retry-after'], String(RETRY_AFTER_SECONDS))
  t.match(json.json(), { statusCode: 503, error: 'Service Unavailable', message: UNAVAILABLE })
})

t.test('any other fault stays a 500, without Retry-After; a refusal keeps its words', async (t) => {
  const server = await app(t, {
    '/constraint': () => pgError('23505', 'duplicate key value violates unique constraint "batch_pkey"'),
    '/bug': () => new TypeError("Cannot read properties of undefined (reading 'id')"),
    '/refused': () => new HttpError(409, 'This installation link was already used.'),
  })
  for (const url of ['/constraint', '/bug']) {
    const page = await server.inject({ url })
    t.equal(page.statusCode, 500, url)
    t.equal(page.headers['retry-after'], undefined)
    t.match(page.body, 'Something went wrong on our side')
    t.notMatch(page.body, /duplicate key|batch_pkey|Cannot read/)
  }
  const refused = await server.inject({ url: '/refused' })
  t.equal(refused.statusCode, 409)
  t.match(refused.body, 'This installation link was already used.')
})
