import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import type { Env } from '../src/config.js'
import { freePort } from '../src/db/embedded-postgres.js'
import { pendingMigrations } from '../src/db/migrator.js'
import { testDatabase } from './helpers/database.js'
import { toolEnv } from './helpers/child-env.js'
import { rsaKeyPair } from './helpers/keys.js'

// `npm start` as a real process: src/main.ts under the same node flags as this test, so tap's
// TypeScript loader and coverage apply to it as well.

const root = fileURLToPath(new URL('..', import.meta.url))

const { privateKey } = rsaKeyPair()

const secrets = {
  SESSION_SECRET: 'a-session-secret-that-is-long-enough-1234',
  GITHUB_APP_CLIENT_SECRET: 'client-secret-never-printed',
  GITHUB_WEBHOOK_SECRET: 'webhook-secret-never-printed',
}

function productionEnv(databaseUrl: string, port: number): Env {
  return {
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: 'https://migrate.example.com',
    GITHUB_APP_ID: '4242',
    GITHUB_APP_SLUG: 'example-ci',
    GITHUB_APP_CLIENT_ID: 'Iv1.0123456789',
    GITHUB_APP_PRIVATE_KEY: privateKey,
    LEGACY_HOOK_URL: 'https://ci.example.com/hooks/github',
    LOG_LEVEL: 'info',
    ...secrets,
  }
}


interface Started {
  child: ChildProcess
  output: { stdout: string; stderr: string }
  exit: Promise<number | null>
}

function start(env: Env): Started {
  const child = spawn(process.execPath, [...process.execArgv, 'src/main.ts'], { cwd: root, env: { ...toolEnv(), ...env } })
  const output = { stdout: '', stderr: '' }
  child.stdout!.on('data', (d: Buffer) => (output.stdout += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (output.stderr += d.toString()))
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { child, output, exit }
}

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

function assertNoSecret(t: Test, text: string): void {
  for (const value of [...Object.values(secrets), privateKey.split('\n')[1]!]) {
    t.notOk(text.includes(value), 'no secret value in the output')
  }
}

t.test('an invalid environment: refuses to start, naming every problem', async (t) => {
  const env = productionEnv('mysql://db.internal/oauth', 3000)
  delete env['GITHUB_APP_SLUG']
  delete env['LEGACY_HOOK_URL']
  env['PORT'] = 'eighty'
  env['SESSION_SECRET'] = 'short-session-secret'
  env['GITHUB_APP_PRIVATE_KEY'] = 'not a key'
  env['TRUST_PROXY'] = 'everyone'
  const { exit, output } = start(env)
  t.equal(await exit, 1)
  t.equal(output.stdout, '')
  t.match(output.stderr, /^oauth-to-app: Configuration is invalid:\n/)
  for (const problem of [
    'DATABASE_URL must be a postgres://',
    'PORT must be a whole number',
    'SESSION_SECRET must be at least 32 characters long',
    'GITHUB_APP_SLUG is required',
    'LEGACY_HOOK_URL is required',
    'GITHUB_APP_PRIVATE_KEY is not a PEM private key',
    'TRUST_PROXY must be a hop count',
  ]) {
    t.match(output.stderr, `  - ${problem}`)
  }
  t.notMatch(output.stderr, /\n\s+at /, 'no stack trace')
  t.notMatch(output.stderr, 'short-session-secret')
  assertNoSecret(t, output.stderr)
})

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

t.test('a database that cannot be reached: a one-line reason, exit 1', async (t) => {
  const closed = await freePort()
  const { exit, output } = start(productionEnv(`postgres://svc:db-password@127.0.0.1:${closed}/oauth`, await freePort()))
  t.equal(await exit, 1)
  t.match(output.stderr, /^oauth-to-app: could not start: migrations failed: .*ECONNREFUSED/)
  t.notMatch(output.stderr, 'db-password')
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
