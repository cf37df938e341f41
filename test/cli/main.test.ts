import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { ConfigError, type Env } from '../../src/config.js'
import { defineCommand, describeDatabase, requireDatabaseUrl, type Command } from '../../src/cli/command.js'
import { commands, runCli } from '../../src/cli/main.js'
import { EmbeddedPostgresError } from '../../src/db/embedded-postgres.js'
import { MigrationError } from '../../src/db/migrator.js'
import { captureIo } from '../helpers/cli-io.js'
import { toolEnv } from '../helpers/child-env.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

async function cli(argv: string[], available?: readonly Command[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = captureIo({})
  const code = await runCli(argv, io, available)
  return { code, stdout: io.stdout.text, stderr: io.stderr.text }
}

// A command that echoes what it was given, and one that throws what it is told to.
const echo = defineCommand({
  name: 'echo',
  summary: 'Print the parsed arguments',
  usage: 'Usage: oauth-to-app echo [--loud] [--times N] WORD\n',
  options: { loud: { type: 'boolean' }, times: { type: 'string', short: 'n' } },
  arguments: ['WORD'],
  async run({ values, positionals }, io) {
    const loud: boolean | undefined = values.loud
    const times: string | undefined = values.times
    io.stdout.write(JSON.stringify({ loud, times, positionals }))
    return 0
  },
})

function throwing(error: unknown): Command {
  return defineCommand({
    name: 'fail',
    summary: 'Throw',
    usage: 'Usage: oauth-to-app fail',
    options: {},
    async run() {
      throw error
    },
  })
}

t.test('--help, -h and help list every command with its summary', async (t) => {
  for (const argv of [['--help'], ['-h'], ['help']]) {
    const { code, stdout, stderr } = await cli(argv)
    t.equal(code, 0, argv.join(' '))
    t.equal(stderr, '')
    t.match(stdout, /^Usage: oauth-to-app <command> \[options\]/)
    for (const { name, summary } of commands) {
      t.ok(stdout.split('\n').some((line) => line.startsWith(`  ${name} `) && line.endsWith(` ${summary}`)), `lists ${name}`)
    }
    t.match(stdout, 'Run "oauth-to-app <command> --help"')
  }
})

t.test('no command: the list on stderr, exit 2', async (t) => {
  const { code, stdout, stderr } = await cli([])
  t.equal(code, 2)
  t.equal(stdout, '')
  t.match(stderr, 'Commands:')
  t.match(stderr, /\n {2}migrate +/)
})

t.test('<command> --help and help <command> print its usage', async (t) => {
  for (const argv of [['migrate', '--help'], ['migrate', '-h'], ['help', 'migrate'], ['migrate', '--down', '--help']]) {
    const { code, stdout, stderr } = await cli(argv)
    t.equal(code, 0, argv.join(' '))
    t.equal(stderr, '')
    t.match(stdout, /^Usage: oauth-to-app migrate \[--down\]\n/)
    t.match(stdout, '--down')
  }
  const withArgument = await cli(['echo', '--help'], [echo])
  t.equal(withArgument.code, 0, '--help needs no required argument')
  t.equal(withArgument.stdout, echo.usage)
})

t.test('an unknown command: a clear error and the list, exit 2', async (t) => {
  const { code, stdout, stderr } = await cli(['migrat'])
  t.equal(code, 2)
  t.equal(stdout, '')
  t.match(stderr, /^oauth-to-app: unknown command "migrat"\n\nUsage:/)
  t.match(stderr, /\n {2}migrate +/)
  const help = await cli(['help', 'nope'])
  t.equal(help.code, 2)
  t.match(help.stderr, 'unknown command "nope"')
  const option = await cli(['--verbose', 'migrate'])
  t.equal(option.code, 2)
  t.match(option.stderr, 'unknown option "--verbose"')
})

t.test('an unknown or malformed option: exit 2 naming it', async (t) => {
  const unknown = await cli(['migrate', '--up'])
  t.equal(unknown.code, 2)
  t.equal(unknown.stdout, '')
  t.equal(unknown.stderr, `oauth-to-app migrate: Unknown option '--up'.\nRun "oauth-to-app migrate --help" for usage.\n`)

  const value = await cli(['migrate', '--down=yes'])
  t.equal(value.code, 2)
  t.match(value.stderr, "'--down'")

  const missing = await cli(['echo', 'hi', '--times'], [echo])
  t.equal(missing.code, 2)
  t.match(missing.stderr, "Option '-n, --times <value>' argument missing")

  const positional = await cli(['migrate', 'now'])
  t.equal(positional.code, 2)
  t.match(positional.stderr, 'oauth-to-app migrate: unexpected argument "now"')
})

t.test('options and positional arguments reach the command, typed', async (t) => {
  const ok = await cli(['echo', '--loud', '-n', '3', 'hello'], [echo])
  t.equal(ok.code, 0)
  t.same(JSON.parse(ok.stdout), { loud: true, times: '3', positionals: ['hello'] })

  const none = await cli(['echo'], [echo])
  t.equal(none.code, 2)
  t.match(none.stderr, 'oauth-to-app echo: missing WORD\nRun "oauth-to-app echo --help" for usage.')

  const many = await cli(['echo', 'a', 'b'], [echo])
  t.equal(many.code, 2)
  t.match(many.stderr, 'unexpected argument "b"')

  const dashed = await cli(['echo', '--', '--loud'], [echo])
  t.equal(dashed.code, 0, 'after --, everything is an argument')
  t.same(JSON.parse(dashed.stdout).positionals, ['--loud'])
})

t.test('errors written for operators: message only, exit 1', async (t) => {
  for (const error of [
    new ConfigError(['DATABASE_URL must be a postgres:// or postgresql:// connection URL']),
    new MigrationError('migration 0002-service-schema failed: relation "session" already exists', []),
    new EmbeddedPostgresError('Embedded Postgres could not start on port 5432: port 5432 on 127.0.0.1 is already in use'),
  ]) {
    const { code, stdout, stderr } = await cli(['fail'], [throwing(error)])
    t.equal(code, 1, error.name)
    t.equal(stdout, '')
    t.equal(stderr, `oauth-to-app fail: ${error.message}\n`)
    t.notMatch(stderr, /\n\s+at /, 'no stack')
  }
})

t.test('unexpected errors: one short line, exit 1', async (t) => {
  const error = new TypeError('cannot read properties of undefined\n    detail: select * from secrets')
  const thrown = await cli(['fail'], [throwing(error)])
  t.equal(thrown.code, 1)
  t.equal(thrown.stderr, 'oauth-to-app fail: unexpected error: TypeError: cannot read properties of undefined\n')

  const notAnError = await cli(['fail'], [throwing('plain string')])
  t.equal(notAnError.code, 1)
  t.equal(notAnError.stderr, 'oauth-to-app fail: unexpected error: plain string\n')

  // A command whose option table parseArgs rejects is a programming error, not a usage error.
  const broken = defineCommand({ ...echo, options: { loud: { type: 'number' } } as unknown as typeof echo.options })
  const result = await cli(['echo', 'x'], [broken])
  t.equal(result.code, 1)
  t.match(result.stderr, 'oauth-to-app echo: unexpected error: TypeError')
})

t.test('requireDatabaseUrl and describeDatabase', async (t) => {
  t.throws(() => requireDatabaseUrl({}), { name: 'UsageError', message: /^DATABASE_URL is required/ })
  t.throws(() => requireDatabaseUrl({ DATABASE_URL: 'mysql://x' }), { name: 'ConfigError' })
  t.equal(requireDatabaseUrl({ DATABASE_URL: 'postgres://h/db' }), 'postgres://h/db')
  t.equal(describeDatabase('postgres://svc:s3cret%21@db.internal:6543/oauth?sslmode=require'), 'svc@db.internal:6543/oauth')
  t.equal(describeDatabase('postgresql://db.internal/oauth'), 'db.internal/oauth')
})


t.test('the bin runs as a program: exit codes and streams', async (t) => {
  const run = (argv: string[], env: Env) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [...process.execArgv, 'src/cli/main.ts', ...argv], {
        cwd: root,
        env: { ...toolEnv(), ...env },
      })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    })
  const [help, missing] = await Promise.all([run(['--help'], {}), run(['migrate'], {})])
  t.equal(help.code, 0)
  t.match(help.stdout, /^Usage: oauth-to-app <command>/)
  t.equal(missing.code, 2)
  t.match(missing.stderr, 'oauth-to-app migrate: DATABASE_URL is required')
})
