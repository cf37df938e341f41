import t from 'tap'
import { freePort } from '../src/db/embedded-postgres.js'
import { assertNoSecret, productionEnv, start } from './helpers/main-process.js'

// `npm start` as a real process, refusing to start: an environment with problems, a database
// that cannot be reached. Each a one-line reason (or a list), exit 1, and no secret printed.

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

t.test('a database that cannot be reached: a one-line reason, exit 1', async (t) => {
  const closed = await freePort()
  const { exit, output } = start(productionEnv(`postgres://svc:db-password@127.0.0.1:${closed}/oauth`, await freePort()))
  t.equal(await exit, 1)
  t.match(output.stderr, /^oauth-to-app: could not start: migrations failed: .*ECONNREFUSED/)
  t.notMatch(output.stderr, 'db-password')
})
