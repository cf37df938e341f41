import { readdirSync } from 'node:fs'
import { sql } from 'kysely'
import t from 'tap'
import type { Env } from '../../../src/config.js'
import { runCli } from '../../../src/cli/main.js'
import { describeDatabase } from '../../../src/cli/command.js'
import { freePort } from '../../../src/db/embedded-postgres.js'
import { pendingMigrations } from '../../../src/db/migrator.js'
import { captureIo } from '../../helpers/cli-io.js'
import { testDatabase } from '../../helpers/database.js'


async function migrate(env: Env, ...options: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = captureIo(env)
  const code = await runCli(['migrate', ...options], io)
  return { code, stdout: io.stdout.text, stderr: io.stderr.text }
}

// Every migration in migrations/, in order: the tests hold for whatever later issues add.
const migrationNames = readdirSync(new URL('../../../migrations', import.meta.url))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort()
const last = migrationNames.at(-1)!
const beforeLast = migrationNames.at(-2)!

t.test('applies every pending migration, one line each, then reports up to date', async (t) => {
  const tdb = await testDatabase(t, { migrate: false })
  const env = { DATABASE_URL: tdb.url }
  const first = await migrate(env)
  t.equal(first.code, 0)
  t.equal(first.stderr, '')
  const lines = first.stdout.trimEnd().split('\n')
  t.equal(lines[0], `database ${describeDatabase(tdb.url)}`)
  t.same(lines.slice(1), migrationNames.map((name) => `applied ${name}`))
  t.same(await pendingMigrations(tdb.db), [])

  const again = await migrate(env)
  t.equal(again.code, 0)
  t.equal(again.stdout, `database ${describeDatabase(tdb.url)}\ndatabase is up to date\n`)
})

t.test('--down reverts only the last migration and names it', async (t) => {
  const tdb = await testDatabase(t)
  const env = { DATABASE_URL: tdb.url }
  const down = await migrate(env, '--down')
  t.equal(down.code, 0)
  t.ok(down.stdout.endsWith(`\nreverted ${last}\n`))
  t.same(await pendingMigrations(tdb.db), [last])

  const before = await migrate(env, '--down')
  t.ok(before.stdout.endsWith(`\nreverted ${beforeLast}\n`), 'a second --down reverts the one before')
  t.same(await pendingMigrations(tdb.db), [beforeLast, last])

  const up = await migrate(env)
  t.ok(up.stdout.endsWith(`\napplied ${beforeLast}\napplied ${last}\n`), 'and migrate applies them again')

  const empty = await testDatabase(t, { migrate: false })
  const nothing = await migrate({ DATABASE_URL: empty.url }, '--down')
  t.equal(nothing.code, 0)
  t.match(nothing.stdout, /\nno migration to revert\n$/)
})

t.test('without DATABASE_URL: says it is required, exit 2', async (t) => {
  for (const env of [{}, { DATABASE_URL: '' }]) {
    const result = await migrate(env)
    t.equal(result.code, 2)
    t.equal(result.stdout, '')
    t.match(result.stderr, /^oauth-to-app migrate: DATABASE_URL is required/)
    t.match(result.stderr, 'oauth-to-app migrate --help')
  }
  const invalid = await migrate({ DATABASE_URL: 'mysql://svc:db-password@h/db' })
  t.equal(invalid.code, 1)
  t.match(invalid.stderr, 'DATABASE_URL must be a postgres:// or postgresql:// connection URL')
  t.notMatch(invalid.stderr, 'db-password')
})

t.test('a failing migration: the error, and nothing applied (one transaction), exit 1', async (t) => {
  const tdb = await testDatabase(t, { migrate: false })
  // Something in the way of the second migration only.
  await sql`create schema app; create table app.session (sid text)`.execute(tdb.db)
  const result = await migrate({ DATABASE_URL: tdb.url })
  t.equal(result.code, 1)
  t.equal(result.stdout, `database ${describeDatabase(tdb.url)}\n`)
  t.match(result.stderr, /^oauth-to-app migrate: migration \S+-service-schema failed: relation "session" already exists\n$/)
  t.same(await pendingMigrations(tdb.db), migrationNames)
})

t.test('an unreachable database: a one-line error without the password, exit 1', async (t) => {
  const port = await freePort()
  const url = `postgres://svc:s3cret-password@127.0.0.1:${port}/oauth`
  const result = await migrate({ DATABASE_URL: url })
  t.equal(result.code, 1)
  t.equal(result.stdout, `database svc@127.0.0.1:${port}/oauth\n`)
  t.match(result.stderr, /^oauth-to-app migrate: migrations failed: .*ECONNREFUSED/)
  t.notMatch(result.stdout + result.stderr, 's3cret-password')
})

t.test('the password of DATABASE_URL is never printed', async (t) => {
  const tdb = await testDatabase(t)
  const { password } = new URL(tdb.url)
  const result = await migrate({ DATABASE_URL: tdb.url })
  t.equal(result.code, 0)
  if (password !== '') t.notMatch(result.stdout, password)
  t.notMatch(result.stdout, /:[^@/\s]*@/, 'no user:password@ in what is printed')
})
