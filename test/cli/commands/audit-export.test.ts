import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import t from 'tap'
import { runCli } from '../../../src/cli/main.js'
import { appendAudit, sealPending } from '../../../src/migration/audit.js'
import { captureIo } from '../../helpers/cli-io.js'
import { testDatabase, type TestDatabase } from '../../helpers/database.js'
import { tempDir } from '../../helpers/temp-dir.js'

// An auditor's round trip: the operator exports the log with its chain, the auditor checks the
// file without the database, and any change to it shows.

async function events(tdb: TestDatabase, n: number, outcome = 'ok'): Promise<void> {
  for (let i = 0; i < n; i++) await appendAudit(tdb.db, { actor: { kind: 'user', githubId: 1, login: 'mona' }, action: 'sign_in', outcome, detail: { i, note: 'naïve ☃' } })
}

async function verify(file: string, stdin?: string) {
  const io = captureIo({}, stdin === undefined ? {} : { stdin })
  const code = await runCli(['audit:verify', '--file', file], io)
  return { code, out: io.stdout.text, err: io.stderr.text }
}

t.test('export, then check the file alone: intact, and any change breaks it at that line', async (t) => {
  const tdb = await testDatabase(t)
  const dir = await tempDir(t, 'audit-export')
  await events(tdb, 5)
  const file = path.join(dir, 'audit.ndjson')
  const io = captureIo({ DATABASE_URL: tdb.url })
  t.equal(await runCli(['audit:export', '--format', 'ndjson', '--out', file], io), 0)
  t.match(io.stderr.text, /: 5 events written to .*audit\.ndjson\n/)
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n')
  t.equal(lines.length, 5)
  t.match(JSON.parse(lines[0]!), { seq: 1, prev_hash: '0'.repeat(64), hash: /^[0-9a-f]{64}$/, canonical: /"action": "sign_in"/ })
  t.same(await verify(file), { code: 0, out: `${file} is intact: 5 events checked (chain positions 1 to 5; the first links to nothing: the file starts the log)\n`, err: '' })

  const tampered = async (change: (lines: string[]) => string[]) => {
    const copy = path.join(dir, 'tampered.ndjson')
    await writeFile(copy, `${change([...lines]).join('\n')}\n`)
    return (await verify(copy)).err.replace(`${copy} `, '')
  }
  t.equal(await tampered((l) => l.map((x, i) => (i === 2 ? x.replace('\\"outcome\\": \\"ok\\"', '\\"outcome\\": \\"failed\\"') : x))), 'is broken at line 3: its content does not match its hash (changed after it was written)\n')
  t.equal(await tampered((l) => l.filter((_, i) => i !== 2)), 'is broken at line 3: it is event #4, but #3 should follow #2\n')
  t.equal(await tampered((l) => [l[0]!, l[2]!, l[1]!, l[3]!, l[4]!]), 'is broken at line 2: it is event #3, but #2 should follow #1\n')
  t.equal(await tampered((l) => l.map((x, i) => (i === 1 ? x.replace(/"prev_hash":"[0-9a-f]+"/, `"prev_hash":"${'1'.repeat(64)}"`) : x))), 'is broken at line 2: its link to the event before it does not match\n')
  t.equal(await tampered((l) => [l[0]!.replace(/"prev_hash":"0+"/, `"prev_hash":"${'2'.repeat(64)}"`)]), 'is broken at line 1: the first event of the log links to an event before it\n')
  t.equal(await tampered((l) => [l[0]!, '{not json']), 'is broken at line 2: it is not JSON\n')
  t.equal(await tampered((l) => [l[0]!, '{"seq": 2}']), 'is broken at line 2: it lacks seq, prev_hash, hash or canonical\n')
  t.equal(await tampered(() => ['']), '', 'an empty file holds nothing to break')
  t.equal((await verify(path.join(dir, 'tampered.ndjson'))).out, `${path.join(dir, 'tampered.ndjson')} is intact: 0 events checked\n`)
})

t.test('--since: the rest of the log, linked to the export before it; standard output and input', async (t) => {
  const tdb = await testDatabase(t)
  await events(tdb, 3)
  const before = captureIo({ DATABASE_URL: tdb.url })
  t.equal(await runCli(['audit:export'], before), 0)
  const lastHash = (JSON.parse(before.stdout.text.trimEnd().split('\n').at(-1)!) as { hash: string }).hash
  await new Promise((resolve) => setTimeout(resolve, 10))
  const since = new Date().toISOString()
  await new Promise((resolve) => setTimeout(resolve, 10))
  await events(tdb, 2, 'later')
  const after = captureIo({ DATABASE_URL: tdb.url })
  t.equal(await runCli(['audit:export', '--since', since], after), 0)
  t.equal(after.stdout.text.trimEnd().split('\n').length, 2)
  t.match(after.stderr.text, /: 2 events written\n/)
  t.same(await verify('-', after.stdout.text), { code: 0, out: `- is intact: 2 events checked (chain positions 4 to 5; the first links to ${lastHash})\n`, err: '' })

  const none = captureIo({ DATABASE_URL: tdb.url })
  t.equal(await runCli(['audit:export', '--since', '2999-01-01'], none), 0)
  t.equal(none.stdout.text, '')
  t.match(none.stderr.text, /: 0 events written\n/)
})

t.test('wrong command lines are refused, naming the problem', async (t) => {
  const tdb = await testDatabase(t)
  const dir = await tempDir(t, 'audit-export-args')
  const run = async (args: string[]) => {
    const io = captureIo({ DATABASE_URL: tdb.url })
    return { code: await runCli(args, io), err: io.stderr.text }
  }
  t.match(await run(['audit:export', '--format', 'csv']), { code: 2, err: /--format must be ndjson, not "csv"/ })
  t.match(await run(['audit:export', '--since', 'last week']), { code: 2, err: /--since must be a date \(2026-11-30\) or an ISO instant, not "last week"/ })
  t.match(await run(['audit:export', '--since', '2026-13-45']), { code: 2, err: /--since must be a date/ })
  t.match(await run(['audit:verify', '--file', path.join(dir, 'missing.ndjson')]), { code: 2, err: /cannot read .*missing\.ndjson: no such file/ })
  t.match(await run(['audit:verify', '--file', dir]), { code: 2, err: /is not a file/ })
  const file = path.join(dir, 'plain')
  await writeFile(file, '')
  t.match(await run(['audit:verify', '--file', path.join(file, 'inside')]), { code: 2, err: /cannot read .*inside: ENOTDIR/ })
  t.match(await run(['audit:export', '--out', dir]), { code: 2, err: /cannot write .*: EISDIR: illegal operation on a directory\n/ })
  t.match(await run(['audit:export', '--wait', 'soon']), { code: 2, err: /--wait must be a number of seconds, 0 or more, not "soon"/ })
})

t.test('events an open transaction holds back are counted, and left for the next export', async (t) => {
  const tdb = await testDatabase(t)
  await events(tdb, 1)
  // Sealed first, waiting out other tests' transactions on this server: with --wait 0 below,
  // only this test's open transaction holds events back.
  await sealPending(tdb.db, 10_000)
  const open = new pg.Client({ connectionString: tdb.url })
  await open.connect()
  t.teardown(() => open.end())
  await open.query('begin')
  await open.query('select pg_current_xact_id()')
  await events(tdb, 2)
  const io = captureIo({ DATABASE_URL: tdb.url })
  t.equal(await runCli(['audit:export', '--wait', '0'], io), 0)
  t.equal(io.stdout.text.trimEnd().split('\n').length, 1)
  t.match(io.stderr.text, /: 1 events written; 2 newer events await sealing and are not in it\n/)
  await open.query('commit')
})
