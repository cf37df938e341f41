import path from 'node:path'
import t, { type Test } from 'tap'
import { ConfigError, databaseUrlFrom, isInteractive, loadConfig, parseStaff, processEnv, type Env } from '../src/config.js'
import { rsaKeyPair } from './helpers/keys.js'

// Spelled in two parts so that no scanner for committed keys mistakes this test for one.
const PEM_BEGIN = ['-----BEGIN RSA', 'PRIVATE KEY-----'].join(' ')

const { privateKey } = rsaKeyPair()

const secrets = {
  SESSION_SECRET: 'session-secret-0123456789-abcdefghij',
  GITHUB_APP_CLIENT_SECRET: 'client-secret-do-not-print',
  GITHUB_WEBHOOK_SECRET: 'webhook-secret-do-not-print',
}

const good: Env = {
  DATABASE_URL: 'postgres://svc:db-password@db.internal:5432/oauth',
  PUBLIC_URL: 'https://migrate.example.com/',
  GITHUB_APP_ID: '123456',
  GITHUB_APP_SLUG: 'example-ci',
  GITHUB_APP_CLIENT_ID: 'Iv1.abc123',
  GITHUB_APP_PRIVATE_KEY: privateKey,
  LEGACY_HOOK_URL: 'https://ci.example.com/hooks/github',
  ...secrets,
}

function problemsOf(t: Test, env: Env): string {
  try {
    loadConfig(env)
  } catch (error) {
    t.type(error, ConfigError)
    const message = (error as ConfigError).message
    // Whatever went wrong, no secret reaches the message (and so no log).
    for (const value of [...Object.values(secrets), privateKey, privateKey.split('\n')[1]!, 'db-password']) {
      t.notOk(message.includes(value), 'the message carries no secret value')
    }
    for (const name of [...Object.keys(secrets), 'GITHUB_APP_PRIVATE_KEY']) {
      const value = env[name]
      if (value !== undefined && value.length >= 8) t.notOk(message.includes(value), `nor the ${name} it was given`)
    }
    return message
  }
  t.fail('loadConfig should have thrown')
  return ''
}

t.test('a complete environment loads, with defaults for the optional variables', async (t) => {
  const config = loadConfig(good)
  t.equal(config.databaseUrl, good['DATABASE_URL'])
  t.equal(config.host, '0.0.0.0')
  t.equal(config.port, 3000)
  t.equal(config.publicUrl, 'https://migrate.example.com', 'trailing slash removed')
  t.equal(config.sessionSecret, secrets.SESSION_SECRET)
  t.same(config.github, {
    webUrl: 'https://github.com',
    apiUrl: 'https://api.github.com',
    appId: 123456,
    appSlug: 'example-ci',
    clientId: 'Iv1.abc123',
    clientSecret: secrets.GITHUB_APP_CLIENT_SECRET,
    privateKey,
    webhookSecret: secrets.GITHUB_WEBHOOK_SECRET,
    writeSpacingMs: 1000,
    maxInFlight: 8,
  })
  t.same(config.legacy, { hookUrl: 'https://ci.example.com/hooks/github' })
  t.same([...config.staff], [])
  t.equal(config.logLevel, 'info')
  t.equal(config.secureCookies, true)
  t.equal(config.trustProxy, false, 'no proxy is trusted unless named')
})

t.test('every optional variable can be set', async (t) => {
  const config = loadConfig({
    ...good,
    HOST: '127.0.0.1',
    PORT: '8080',
    PUBLIC_URL: 'http://localhost:8080',
    GITHUB_WEB_URL: 'https://ghe.example.com/',
    GITHUB_API_URL: 'https://ghe.example.com/api/v3/',
    STAFF: ' Mona:operator, hubot:support ',
    LOG_LEVEL: 'warn',
  })
  t.equal(config.host, '127.0.0.1')
  t.equal(config.port, 8080)
  t.equal(config.github.webUrl, 'https://ghe.example.com')
  t.equal(config.github.apiUrl, 'https://ghe.example.com/api/v3')
  t.same([...config.staff], [['mona', 'operator'], ['hubot', 'support']], 'logins are lower-cased')
  t.equal(config.logLevel, 'warn')
  t.equal(config.secureCookies, false, 'plain http (local development) cannot carry Secure cookies')
})

t.test('empty values count as unset: defaults apply, required ones are missing', async (t) => {
  const config = loadConfig({ ...good, PORT: '', GITHUB_WEB_URL: ' ', STAFF: '', LOG_LEVEL: '' })
  t.equal(config.port, 3000)
  t.equal(config.github.webUrl, 'https://github.com')
  t.equal(config.logLevel, 'info')
  const message = problemsOf(t, { ...good, SESSION_SECRET: '', GITHUB_APP_PRIVATE_KEY: '' })
  t.match(message, /SESSION_SECRET is required/)
  t.match(message, /GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_FILE is required/)
})

t.test('every missing variable is named in one message', async (t) => {
  const message = problemsOf(t, {})
  const required = [
    'DATABASE_URL',
    'PUBLIC_URL',
    'SESSION_SECRET',
    'GITHUB_APP_ID',
    'GITHUB_APP_SLUG',
    'GITHUB_APP_CLIENT_ID',
    'GITHUB_APP_CLIENT_SECRET',
    'GITHUB_WEBHOOK_SECRET',
    'LEGACY_HOOK_URL',
  ]
  for (const name of required) t.match(message, `${name} is required`)
  t.match(message, 'GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_FILE is required')
  t.match(message, /^Configuration is invalid:\n {2}- /)
  try {
    loadConfig({})
  } catch (error) {
    t.equal((error as ConfigError).problems.length, required.length + 1, 'one problem per variable')
  }
})

t.test('invalid values are all named, with what a valid one looks like', async (t) => {
  const message = problemsOf(t, {
    ...good,
    DATABASE_URL: 'mysql://db.internal/oauth',
    HOST: '',
    PORT: '99999',
    PUBLIC_URL: 'migrate.example.com',
    SESSION_SECRET: 'too-short-secret',
    GITHUB_WEB_URL: 'ftp://github.example.com',
    GITHUB_API_URL: 'https://api github com',
    GITHUB_APP_ID: '12ab',
    GITHUB_APP_SLUG: 'Example CI',
    LEGACY_HOOK_URL: '/hooks/github',
    STAFF: 'mona:admin',
    LOG_LEVEL: 'verbose',
  })
  t.match(message, 'DATABASE_URL must be a postgres:// or postgresql:// connection URL')
  t.notMatch(message, 'HOST', 'an empty HOST is unset, so the default applies')
  t.match(message, 'PORT must be a whole number from 0 to 65535')
  t.match(message, 'PUBLIC_URL must be an http:// or https:// URL')
  t.match(message, 'SESSION_SECRET must be at least 32 characters long')
  t.match(message, 'GITHUB_WEB_URL must be an http:// or https:// URL')
  t.match(message, 'GITHUB_API_URL must be an http:// or https:// URL')
  t.match(message, 'GITHUB_APP_ID must be a positive whole number')
  t.match(message, 'GITHUB_APP_SLUG must be the app slug')
  t.match(message, 'LEGACY_HOOK_URL must be an http:// or https:// URL')
  t.match(message, 'STAFF must be a comma-separated list of login:role')
  t.match(message, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent')
  t.equal(message.match(/LOG_LEVEL/g)?.length, 1, 'one line for LOG_LEVEL despite its several allowed values')
  t.notMatch(message, 'too-short-secret')
})

t.test("the legacy app's credentials come as a pair; the receiver's secret is long enough", async (t) => {
  const both = loadConfig({ ...good, LEGACY_OAUTH_CLIENT_ID: 'legacy-client', LEGACY_OAUTH_CLIENT_SECRET: 'legacy-secret', LEGACY_RECEIVER_SECRET: 'r'.repeat(32) })
  t.same(both.legacy, { hookUrl: 'https://ci.example.com/hooks/github', oauthApp: { clientId: 'legacy-client', clientSecret: 'legacy-secret' }, receiverSecret: 'r'.repeat(32) })
  for (const half of [{ LEGACY_OAUTH_CLIENT_ID: 'legacy-client' }, { LEGACY_OAUTH_CLIENT_SECRET: 'legacy-secret' }]) {
    t.match(problemsOf(t, { ...good, ...half }), 'LEGACY_OAUTH_CLIENT_ID and LEGACY_OAUTH_CLIENT_SECRET must be set together')
  }
  const short = problemsOf(t, { ...good, LEGACY_RECEIVER_SECRET: 'receiver-secret' })
  t.match(short, 'LEGACY_RECEIVER_SECRET must be at least 32 characters long')
  t.notMatch(short, 'receiver-secret', 'never the value')
})

t.test('numbers: GITHUB_APP_ID and PORT must be whole and in range', async (t) => {
  for (const id of ['abc', '1.5', '0', '-3']) {
    t.match(problemsOf(t, { ...good, GITHUB_APP_ID: id }), 'GITHUB_APP_ID must be a positive whole number', id)
  }
  for (const port of ['http', '-1', '65536', '80.5']) {
    t.match(problemsOf(t, { ...good, PORT: port }), 'PORT must be a whole number', port)
  }
  t.equal(loadConfig({ ...good, PORT: '0' }).port, 0, 'port 0: any free port')
})

t.test('TRUST_PROXY: a hop count, or the addresses and ranges of the proxies', async (t) => {
  const trust = (value: string) => loadConfig({ ...good, TRUST_PROXY: value }).trustProxy
  t.equal(trust('1'), 1)
  t.equal(trust(' 2 '), 2)
  t.equal(trust('32'), 32)
  t.equal(trust('0'), false, 'zero hops: none')
  t.equal(trust(''), false, 'empty: unset')
  t.same(trust('10.0.0.1'), ['10.0.0.1'])
  t.same(trust('10.0.0.0/8, 2001:db8::/32,loopback , 192.168.1.7/32,::ffff:10.1.2.3,uniquelocal,linklocal'), [
    '10.0.0.0/8',
    '2001:db8::/32',
    'loopback',
    '192.168.1.7/32',
    '::ffff:10.1.2.3',
    'uniquelocal',
    'linklocal',
  ])
  t.same(trust('2001:db8::1/128'), ['2001:db8::1/128'])

  for (const value of ['true', 'yes', '*', '-1', '33', '1.5', '1e3', '10.0.0.0/0', '10.0.0.0/33', '2001:db8::/129', '10.0.0.1,', ',10.0.0.1', '10.0.0.1/8/8', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/255.0.0.0', 'fe80::1%eth0', '10.0.0.256', 'proxy.internal', 'Loopback']) {
    const message = problemsOf(t, { ...good, TRUST_PROXY: value })
    t.match(message, 'TRUST_PROXY must be a hop count from 0 to 32 (e.g. 1) or a comma-separated list of proxy addresses and CIDR ranges', value)
  }
  const several = problemsOf(t, { ...good, TRUST_PROXY: 'all', PORT: 'http' })
  t.match(several, 'TRUST_PROXY must be')
  t.match(several, 'PORT must be', 'named with every other problem')
})

t.test('GitHub lanes: write spacing and requests in flight', async (t) => {
  const config = loadConfig({ ...good, GITHUB_WRITE_SPACING_MS: '250', GITHUB_MAX_IN_FLIGHT: '3' })
  t.equal(config.github.writeSpacingMs, 250)
  t.equal(config.github.maxInFlight, 3)
  t.equal(loadConfig({ ...good, GITHUB_WRITE_SPACING_MS: '0' }).github.writeSpacingMs, 0, 'no spacing, for a GitHub Enterprise Server without limits')
  for (const spacing of ['-1', '1.5', 'fast', '60001']) {
    t.match(problemsOf(t, { ...good, GITHUB_WRITE_SPACING_MS: spacing }), 'GITHUB_WRITE_SPACING_MS must be a whole number of milliseconds from 0 to 60000', spacing)
  }
  for (const cap of ['0', '101', 'many', '2.5']) {
    t.match(problemsOf(t, { ...good, GITHUB_MAX_IN_FLIGHT: cap }), 'GITHUB_MAX_IN_FLIGHT must be a whole number from 1 to 100', cap)
  }
})

t.test('STAFF entries', async (t) => {
  for (const staff of ['mona', 'mona:operator,', 'mona:operator;hubot:support', 'mo na:support', ':support']) {
    t.match(problemsOf(t, { ...good, STAFF: staff }), 'STAFF must be', staff)
  }
  t.same([...parseStaff('a:support,B:operator')], [['a', 'support'], ['b', 'operator']])
  t.same([...parseStaff('a:support, a:operator')], [['a', 'operator']], 'the last role of a login wins')
  t.same([...parseStaff('')], [])
})

t.test('private key: exactly one of the two variables', async (t) => {
  const both = problemsOf(t, { ...good, GITHUB_APP_PRIVATE_KEY_FILE: '/run/secrets/key.pem' })
  t.match(both, 'set only one of GITHUB_APP_PRIVATE_KEY and GITHUB_APP_PRIVATE_KEY_FILE')
  const neither = problemsOf(t, { ...good, GITHUB_APP_PRIVATE_KEY: undefined })
  t.match(neither, 'GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_FILE is required')
})

t.test('private key: inline with literal \\n sequences, as dashboards store it', async (t) => {
  const oneLine = privateKey.trim().replace(/\n/g, '\\n')
  t.notOk(oneLine.includes('\n'))
  const config = loadConfig({ ...good, GITHUB_APP_PRIVATE_KEY: oneLine })
  t.equal(config.github.privateKey, privateKey.trim())
})

t.test('private key: from a file', async (t) => {
  const dir = t.testdir({ 'key.pem': privateKey, 'public.pem': 'not a key' })
  const config = loadConfig({ ...good, GITHUB_APP_PRIVATE_KEY: undefined, GITHUB_APP_PRIVATE_KEY_FILE: path.join(dir, 'key.pem') })
  t.equal(config.github.privateKey, privateKey)

  const missing = path.join(dir, 'nope.pem')
  const unreadable = problemsOf(t, { ...good, GITHUB_APP_PRIVATE_KEY: undefined, GITHUB_APP_PRIVATE_KEY_FILE: missing })
  t.match(unreadable, `GITHUB_APP_PRIVATE_KEY_FILE cannot be read: ${missing} (ENOENT)`)

  const directory = problemsOf(t, { ...good, GITHUB_APP_PRIVATE_KEY: undefined, GITHUB_APP_PRIVATE_KEY_FILE: dir })
  t.match(directory, 'GITHUB_APP_PRIVATE_KEY_FILE cannot be read')

  const notPem = problemsOf(t, { ...good, GITHUB_APP_PRIVATE_KEY: undefined, GITHUB_APP_PRIVATE_KEY_FILE: path.join(dir, 'public.pem') })
  t.match(notPem, 'GITHUB_APP_PRIVATE_KEY_FILE is not a PEM private key')
})

t.test('private key: values that are not a private key', async (t) => {
  const { publicKey } = rsaKeyPair()
  for (const [label, value] of [
    ['garbage', 'not-a-key'],
    ['a public key', publicKey],
    ['a truncated key', privateKey.slice(0, 200)],
  ] as const) {
    const message = problemsOf(t, { ...good, GITHUB_APP_PRIVATE_KEY: value })
    t.match(message, 'GITHUB_APP_PRIVATE_KEY is not a PEM private key', label)
    t.notOk(message.includes(value), `${label} is not repeated in the message`)
  }
})

t.test('the key is checked even when other variables are wrong, so every problem shows at once', async (t) => {
  const message = problemsOf(t, { ...good, PORT: 'x', GITHUB_APP_PRIVATE_KEY: 'nope' })
  t.match(message, 'PORT must be')
  t.match(message, 'GITHUB_APP_PRIVATE_KEY is not a PEM private key')
})

t.test('databaseUrlFrom: only DATABASE_URL, validated', async (t) => {
  t.equal(databaseUrlFrom({}), undefined)
  t.equal(databaseUrlFrom({ DATABASE_URL: '' }), undefined)
  t.equal(databaseUrlFrom({ DATABASE_URL: 'postgresql://h/db' }), 'postgresql://h/db')
  t.throws(() => databaseUrlFrom({ DATABASE_URL: 'mysql://svc:db-password@h/db' }), {
    name: 'ConfigError',
    message: /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ connection URL/,
  })
  try {
    databaseUrlFrom({ DATABASE_URL: 'mysql://svc:db-password@h/db' })
  } catch (error) {
    t.notMatch((error as Error).message, 'db-password')
  }
})

t.test('processEnv is the process environment', async (t) => {
  t.equal(processEnv(), process.env)
})

t.test('isInteractive: a terminal, unless CI says otherwise', async (t) => {
  t.intercept(process.stderr, 'isTTY', { value: false })
  t.equal(isInteractive(process.stderr, {}), false)
  t.intercept(process.stderr, 'isTTY', { value: true })
  t.equal(isInteractive(process.stderr, {}), true)
  t.equal(isInteractive(process.stderr, { CI: 'true' }), false)
})

t.test('a secret in an invalid variable never appears in the message', async (t) => {
  const leaky = 'hunter2-hunter2-hunter2'
  const message = problemsOf(t, {
    ...good,
    SESSION_SECRET: leaky.slice(0, 10),
    GITHUB_APP_PRIVATE_KEY: `${PEM_BEGIN}\n${leaky}\n-----END RSA PRIVATE KEY-----`,
  })
  t.notMatch(message, leaky.slice(0, 10))
  t.notMatch(message, leaky)
})

t.test('loading does not modify the environment it is given', async (t) => {
  const env = { ...good }
  loadConfig(env)
  t.same(env, good, 'the caller’s environment is not modified')
})
