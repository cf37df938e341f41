import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import t, { type Test } from 'tap'
import { runCli } from '../../../src/cli/main.js'
import { LEGACY_CSV_COLUMNS } from '../../../src/legacy/csv-records.js'
import { legacyCsvFromWorld } from '../../../src/legacy/world-seed.js'
import { captureIo } from '../../helpers/cli-io.js'
import { tempDir } from '../../helpers/temp-dir.js'
import { testDatabase } from '../../helpers/database.js'
import { freePort } from '../../../src/db/embedded-postgres.js'
import { readFileSync } from 'node:fs'

const world = JSON.parse(readFileSync(path.resolve('src/simulator/worlds/demo.json'), 'utf8'))
const GOOD = legacyCsvFromWorld(world)

async function fixture(t: Test, name: string, text: string): Promise<string> {
  const dir = await tempDir(t, 'cli-import')
  const file = path.join(dir, name)
  await writeFile(file, text)
  return file
}

t.test('imports a file and says what changed; again, that nothing did', async (t) => {
  const tdb = await testDatabase(t)
  const file = await fixture(t, 'legacy.csv', GOOD)
  const io = captureIo({ DATABASE_URL: tdb.url })
  t.equal(await runCli(['legacy:import', file], io), 0)
  t.match(io.stdout.text, new RegExp(`imported ${file} into .*: 9 rows\\n  hooks: 9 new, 0 updated, 0 unchanged\\n  users: 3 new, 0 updated, 0 unchanged\\n`))
  t.equal(io.stderr.text, '', 'no progress line when stderr is not a terminal')
  const again = captureIo({ DATABASE_URL: tdb.url })
  t.equal(await runCli(['legacy:import', file], again), 0)
  t.match(again.stdout.text, 'hooks: 0 new, 0 updated, 9 unchanged')
})

t.test('reads standard input with -, and shows progress on a terminal', async (t) => {
  const tdb = await testDatabase(t)
  const io = captureIo({ DATABASE_URL: tdb.url }, { tty: true, stdin: GOOD })
  t.equal(await runCli(['legacy:import', '-'], io), 0)
  t.match(io.stderr.text, /reading.* 9 rows/)
  t.match(io.stderr.text, /checking 9 rows/)
  t.match(io.stderr.text, /merging 9 rows/)
  t.match(io.stdout.text, 'imported -')
  const onCi = captureIo({ DATABASE_URL: tdb.url, CI: 'true' }, { tty: true, stdin: GOOD })
  t.equal(await runCli(['legacy:import', '-'], onCi), 0)
  t.equal(onCi.stderr.text, '', 'CI gets no progress line')
})

t.test('a large file on a terminal shows how much of it is read', async (t) => {
  const tdb = await testDatabase(t)
  const file = await fixture(t, 'legacy.csv', GOOD)
  const io = captureIo({ DATABASE_URL: tdb.url }, { tty: true })
  t.equal(await runCli(['legacy:import', file], io), 0)
  t.match(io.stderr.text, /reading 100% \(0 of 0 MB\), 9 rows/)
})

t.test('bad rows: every one as FILE:LINE: reason, exit 1, nothing written', async (t) => {
  const tdb = await testDatabase(t)
  const lines = GOOD.split('\n')
  lines[2] = lines[2]!.replace(',repo,', ',team,')
  lines[5] = lines[5]!.replace('2018-05-01T10:00:00Z', 'soon')
  const file = await fixture(t, 'bad.csv', lines.join('\n'))
  const io = captureIo({ DATABASE_URL: tdb.url }, { tty: true })
  t.equal(await runCli(['legacy:import', file], io), 1)
  t.match(io.stderr.text, `${file}:3: kind must be repo or org\n`)
  t.match(io.stderr.text, `${file}:6: created_at is not an ISO 8601 timestamp`)
  t.match(io.stderr.text, `rejected ${file}: 2 problems in 9 rows; nothing was imported\n`)
  t.equal(io.stdout.text, '')
  t.equal((await tdb.db.selectFrom('legacy.webhooks').selectAll().execute()).length, 0)
})

t.test('one bad row is one problem; an unreachable database is a one-line failure', async (t) => {
  const tdb = await testDatabase(t)
  const file = await fixture(t, 'one.csv', GOOD.replace(',repo,', ',team,'))
  const io = captureIo({ DATABASE_URL: tdb.url })
  t.equal(await runCli(['legacy:import', file], io), 1)
  t.match(io.stderr.text, `rejected ${file}: 1 problem in 9 rows;`)
  const down = captureIo({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/x` })
  t.equal(await runCli(['legacy:import', file], down), 1)
  t.match(down.stderr.text, /^oauth-to-app legacy:import: unexpected error: .*ECONNREFUSED.*\n$/)
})

t.test('an unusable header: its problems at line 1, exit 1', async (t) => {
  const tdb = await testDatabase(t)
  for (const tty of [false, true]) {
    const file = await fixture(t, 'header.csv', LEGACY_CSV_COLUMNS.join(',').replace('kind', 'type') + '\n')
    const io = captureIo({ DATABASE_URL: tdb.url }, { tty })
    t.equal(await runCli(['legacy:import', file], io), 1)
    t.match(io.stderr.text, `${file}:1: unknown column "type"\n${file}:1: missing column kind\n`)
    t.match(io.stderr.text, 'the header line is unusable; nothing was imported')
  }
})

t.test('command line mistakes exit 2 and name the problem', async (t) => {
  const tdb = await testDatabase(t)
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['legacy:import'], { DATABASE_URL: tdb.url }, /missing FILE\.csv/],
    [['legacy:import', 'no-such.csv'], { DATABASE_URL: tdb.url }, /cannot read no-such\.csv: no such file/],
    [['legacy:import', 'test'], { DATABASE_URL: tdb.url }, /test is not a file/],
    [['legacy:import', 'x.csv'], {}, /DATABASE_URL is required/],
    [['legacy:import', 'nul\u0000name.csv'], { DATABASE_URL: tdb.url }, /cannot read nul.name\.csv: .*null bytes/],
  ]
  for (const [argv, env, message] of cases) {
    const io = captureIo(env)
    t.equal(await runCli(argv, io), 2, argv.join(' '))
    t.match(io.stderr.text, message)
  }
  const help = captureIo({})
  t.equal(await runCli(['legacy:import', '--help'], help), 0)
  t.match(help.stdout.text, /Usage: oauth-to-app legacy:import FILE\.csv/)
})
