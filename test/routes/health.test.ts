import { createServer, type Socket } from 'node:net'
import { sql } from 'kysely'
import pg from 'pg'
import t, { type Test } from 'tap'
import { connect, type Db } from '../../src/db/connect.js'
import { buildServer } from '../../src/server.js'
import { testDatabase, withDatabase } from '../helpers/database.js'
import { testServer } from '../helpers/server.js'

function captureLogs() {
  const raw: string[] = []
  return { write: (line: string) => void raw.push(line), text: () => raw.join('') }
}

function server(t: Test, db: Db, logStream?: { write(line: string): void }) {
  return testServer(t, db, { logLevel: 'info', ...(logStream ? { logStream } : {}) })
}

const UNAVAILABLE = { status: 'unavailable', database: 'unreachable' }

t.test('healthy: 200 with the database ok, not cached, and no log line for a passing probe', async (t) => {
  const tdb = await testDatabase(t)
  const logs = captureLogs()
  const app = await server(t, tdb, logs)
  const res = await app.inject({ url: '/healthz' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'no-store')
  t.same(res.json(), { status: 'ok', database: 'ok' })
  t.equal(logs.text(), '')
})

t.test('database refusing connections: 503 without any error text, and a log line', async (t) => {
  const db = connect('postgres://postgres:pa55word@127.0.0.1:1/x', { max: 1 })
  t.teardown(() => db.close())
  const logs = captureLogs()
  const app = await server(t, db, logs)
  const res = await app.inject({ url: '/healthz' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), UNAVAILABLE)
  t.notMatch(res.body, /ECONNREFUSED|127\.0\.0\.1|stack|Error/)
  t.match(logs.text(), /health check: database unreachable/)
  t.match(logs.text(), /ECONNREFUSED/, 'the log says why')
  t.notMatch(logs.text(), /pa55word/)
})

t.test('a service that logs less than warnings: a failing probe logs no more than it does', async (t) => {
  const db = connect('postgres://postgres@127.0.0.1:1/x', { max: 1 })
  t.teardown(() => db.close())
  const quiet = captureLogs()
  const silent = await testServer(t, db, { logLevel: 'silent', logStream: quiet })
  t.equal((await silent.inject({ url: '/healthz' })).statusCode, 503)
  t.equal(quiet.text(), '', 'nothing at all')
  const errors = captureLogs()
  const erring = await testServer(t, db, { logLevel: 'error', logStream: errors })
  t.equal((await erring.inject({ url: '/healthz' })).statusCode, 503)
  t.match(errors.text(), /health check: database unreachable/, 'the failure, an error')
})

t.test('database gone (pool closed, or the database dropped): 503', async (t) => {
  const tdb = await testDatabase(t)
  const closed = connect(tdb.url, { max: 1 })
  await sql`select 1`.execute(closed.db)
  await closed.close()
  const app = await server(t, closed, captureLogs())
  const res = await app.inject({ url: '/healthz' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), UNAVAILABLE)

  const dropped = await testDatabase(t)
  const logs = captureLogs()
  const other = await server(t, dropped, logs)
  t.equal((await other.inject({ url: '/healthz' })).statusCode, 200)
  const admin = new pg.Client({ connectionString: withDatabase(dropped.url, 'postgres') })
  await admin.connect()
  await admin.query(`drop database ${dropped.name} with (force)`)
  await admin.end()
  const gone = await other.inject({ url: '/healthz' })
  t.equal(gone.statusCode, 503)
  t.same(gone.json(), UNAVAILABLE)
  t.notMatch(gone.body, /does not exist|terminat|test_/)
  t.match(logs.text(), /health check: database unreachable/)
})

t.test('database not answering at all: 503 after about two seconds, not after the pool gives up', async (t) => {
  // Accepts the connection and never says a word, like a server behind a dropped route.
  const sockets = new Set<Socket>()
  let hangingUp = false
  // Once the test ends, a connection the service's pools still open (a retry) is hung up at once.
  const silent = createServer((socket) => (hangingUp ? socket.destroy() : void sockets.add(socket)))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const { port } = silent.address() as { port: number }
  const db = connect(`postgres://postgres@127.0.0.1:${port}/x`, { max: 1 })
  t.teardown(async () => {
    // Hanging up first ends the pool's pending connection attempt, so closing it is quick.
    hangingUp = true
    for (const s of sockets) s.destroy()
    await db.close()
    await new Promise((resolve) => silent.close(resolve))
  })
  const logs = captureLogs()
  const app = await server(t, db, logs)

  const started = Date.now()
  const res = await app.inject({ url: '/healthz' })
  const took = Date.now() - started
  t.equal(res.statusCode, 503)
  t.same(res.json(), UNAVAILABLE)
  t.ok(took >= 1_900 && took < 4_500, `answered in ${took} ms`)
  t.match(logs.text(), /did not answer within 2000 ms/)
})
