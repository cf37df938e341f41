import { createServer } from 'node:net'
import t from 'tap'
import { freePort } from '../src/db/embedded-postgres.js'
import { pendingMigrations } from '../src/db/migrator.js'
import { testDatabase } from './helpers/database.js'
import { assertNoSecret, productionEnv, start, type Started } from './helpers/main-process.js'

// `npm start` as a real process, with a database: it serves, and stops cleanly; a port taken
// is a one-line reason. (Refusing a bad environment or database: main-refusals.test.ts. Each
// start loads the service through tap's TypeScript loader, most of a file's time at four files
// at a time: two files keep each well inside tap's limit.)

async function healthy(url: string, { exit, output }: Started): Promise<Response> {
  let exited = false
  void exit.then(() => (exited = true))
  for (const deadline = Date.now() + 60_000; Date.now() < deadline && !exited; ) {
    try {
      return await fetch(url)
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  throw new Error(`the service did not start listening:\n${output.stderr}`)
}

t.test('a valid environment: migrates, serves, and stops cleanly on SIGTERM', async (t) => {
  const tdb = await testDatabase(t, { migrate: false })
  const port = await freePort()
  // A TLS-terminating proxy on the same host.
  const service = start({ ...productionEnv(tdb.url, port), TRUST_PROXY: 'loopback' })
  const { child, exit, output } = service
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  const response = await healthy(`http://127.0.0.1:${port}/healthz`, service)
  t.equal(response.status, 200, output.stderr)
  t.same(await response.json(), { status: 'ok', database: 'ok' })
  t.same(await pendingMigrations(tdb.db), [], 'the schema was brought up to date at start')
  t.match(output.stdout, 'database schema up to date')
  t.match(output.stdout, '0002-service-schema')
  const signIn = await fetch(`http://127.0.0.1:${port}/auth/login`, { redirect: 'manual', headers: { 'x-forwarded-proto': 'https' } })
  t.equal(signIn.status, 302)
  t.match(signIn.headers.get('set-cookie'), /; Secure/, 'through the trusted proxy the request is https, and the Secure cookie is set')
  t.notMatch(output.stdout, 'TRUST_PROXY is not set')

  child.kill('SIGTERM')
  t.equal(await exit, 0, 'exit 0 after a graceful shutdown')
  t.match(output.stdout, 'shutting down')
  t.match(output.stdout, '"signal":"SIGTERM"')
  assertNoSecret(t, output.stdout + output.stderr)
})

t.test('a port already in use: a one-line reason, exit 1', async (t) => {
  const tdb = await testDatabase(t)
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
  const { port } = blocker.address() as { port: number }
  const { exit, output } = start(productionEnv(tdb.url, port))
  t.equal(await exit, 1)
  t.match(output.stderr, /oauth-to-app: could not start: listen EADDRINUSE/)
})
