import { Readable } from 'node:stream'
import t from 'tap'
import { sql } from 'kysely'
import { CsvHeaderError, LEGACY_CSV_COLUMNS } from '../../src/legacy/csv-records.js'
import { importLegacyCsv, type ImportProblem, type ImportProgress } from '../../src/legacy/import.js'
import { writeLegacyCsv } from '../bench/legacy-csv-fixture.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'
import { tempDir } from '../helpers/temp-dir.js'
import { connect } from '../../src/db/connect.js'
import { createReadStream } from 'node:fs'
import path from 'node:path'

const HEADER = LEGACY_CSV_COLUMNS.join(',')
const row = (over: Partial<Record<(typeof LEGACY_CSV_COLUMNS)[number], string>> = {}): string => {
  const base: Record<string, string> = {
    github_user_id: '1', login: 'mona', oauth_token: 'gho_legacy_mona', scopes: '"repo,admin:repo_hook"', kind: 'repo',
    owner_id: '1', owner_login: 'mona', owner_type: 'User', repo_id: '1000', repo_name: 'dotfiles', hook_id: '5000',
    hook_url: 'https://ci.example.com/hooks/github', created_at: '2017-03-01T10:00:00Z',
  }
  return LEGACY_CSV_COLUMNS.map((c) => over[c] ?? base[c]).join(',')
}
const GOOD = [
  HEADER,
  row(),
  row({ repo_id: '1001', repo_name: 'site', hook_id: '5001' }),
  row({ github_user_id: '3', login: 'octo', oauth_token: 'gho_octo', scopes: 'repo', owner_id: '100', owner_login: 'acme', owner_type: 'Organization', repo_id: '1100', repo_name: 'api', hook_id: '5100' }),
  row({ kind: 'org', owner_id: '100', owner_login: 'acme', owner_type: 'Organization', repo_id: '', repo_name: '', hook_id: '6000', created_at: '' }),
].join('\n') + '\n'

interface Outcome {
  result: Awaited<ReturnType<typeof importLegacyCsv>>
  problems: ImportProblem[]
  progress: ImportProgress[]
  /** How many times the file was read: only a file that can be read again is given twice. */
  reads: number
}

/** With `again`, the import may open the file again, as the command does with a file. */
async function importText(tdb: TestDatabase, text: string | Buffer, chunk = 0, again = false): Promise<Outcome> {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text)
  const parts: Buffer[] = []
  if (chunk > 0) for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk))
  else parts.push(bytes)
  const problems: ImportProblem[] = []
  const progress: ImportProgress[] = []
  let reads = 0
  const open = (): Readable => {
    reads++
    return Readable.from(parts)
  }
  const result = await importLegacyCsv(tdb.pool, again ? open : open(), {
    fileName: 'test.csv',
    onProblem: (p) => problems.push(p),
    onProgress: (p) => progress.push(p),
  })
  return { result, problems, progress, reads }
}
const importFile = (tdb: TestDatabase, text: string | Buffer, chunk = 0): Promise<Outcome> => importText(tdb, text, chunk, true)
const how = (again: boolean): string => (again ? ' (a file that can be read again)' : ' (a stream)')

async function hooks(tdb: TestDatabase) {
  return tdb.db.selectFrom('legacy.webhooks').selectAll().orderBy('hook_id').execute()
}
async function users(tdb: TestDatabase) {
  return tdb.db.selectFrom('legacy.oauth_users').selectAll().orderBy('github_user_id').execute()
}
/** Every stored row, ids and all, as one digest. */
async function contents(tdb: TestDatabase): Promise<string | undefined> {
  const { rows } = await sql<{ digest: string }>`
    select md5(string_agg(w::text, ',' order by hook_id) || (select string_agg(u::text, ',' order by github_user_id) from legacy.oauth_users u)) as digest
    from legacy.webhooks w`.execute(tdb.db)
  return rows[0]?.digest
}
async function writes(tdb: TestDatabase): Promise<string> {
  // xmin changes whenever a row is written, so equal xmins mean nothing was rewritten.
  const { rows } = await sql<{ x: string }>`select string_agg(xmin::text, ',' order by hook_id) as x from legacy.webhooks`.execute(tdb.db)
  const u = await sql<{ x: string }>`select string_agg(xmin::text, ',' order by github_user_id) as x from legacy.oauth_users`.execute(tdb.db)
  return `${rows[0]?.x}|${u.rows[0]?.x}`
}

for (const again of [false, true]) t.test(`a good file imports, typed, with the latest line of each user winning${how(again)}`, async (t) => {
  const tdb = await testDatabase(t)
  const { result, problems, progress, reads } = await importText(tdb, GOOD, 0, again)
  t.equal(reads, 1, 'a clean file is read once')
  t.same(problems, [])
  t.match(result, { status: 'imported', records: 4, hooksInserted: 4, hooksUpdated: 0, hooksUnchanged: 0, usersInserted: 2 })
  const stored = await hooks(tdb)
  t.same(stored.map((h) => h.hook_id), [5000, 5001, 5100, 6000])
  t.match(stored[0], { github_user_id: 1, kind: 'repo', owner_id: 1, owner_type: 'User', repo_id: 1000, repo_name: 'dotfiles', hook_url: 'https://ci.example.com/hooks/github' })
  t.equal(stored[0]?.created_at?.toISOString(), '2017-03-01T10:00:00.000Z')
  t.match(stored[3], { kind: 'org', repo_id: null, repo_name: null, created_at: null })
  t.same(await users(tdb), [
    { github_user_id: 1, login: 'mona', oauth_token: 'gho_legacy_mona', scopes: 'repo,admin:repo_hook' },
    { github_user_id: 3, login: 'octo', oauth_token: 'gho_octo', scopes: 'repo' },
  ])
  t.same(progress.map((p) => p.phase).filter((p, i, a) => a.indexOf(p) === i), ['copy', 'check', 'merge'])
  const imports = await tdb.db.selectFrom('app.legacy_import').selectAll().execute()
  t.equal(imports.length, 1)
  t.match(imports[0], { file_name: 'test.csv', rows: 4, hooks_inserted: 4, file_sha256: /^[0-9a-f]{64}$/ })
})

for (const again of [false, true]) t.test(`importing the same file again changes nothing${how(again)}`, async (t) => {
  const tdb = await testDatabase(t)
  await importText(tdb, GOOD, 0, again)
  const before = await writes(tdb)
  const { result } = await importText(tdb, GOOD, 0, again)
  t.match(result, { status: 'imported', hooksInserted: 0, hooksUpdated: 0, hooksUnchanged: 4, usersInserted: 0, usersUpdated: 0, usersUnchanged: 2 })
  t.equal(await writes(tdb), before, 'no row was rewritten')
})

t.test('a newer file updates rows by hook id and keeps rows it does not mention', async (t) => {
  const tdb = await testDatabase(t)
  await importText(tdb, GOOD)
  const newer = [
    HEADER,
    row({ repo_name: 'dotfiles-renamed', oauth_token: '' }),
    row({ github_user_id: '4', login: 'hubot', oauth_token: 'gho_hubot', repo_id: '1200', repo_name: 'core', hook_id: '5200' }),
  ].join('\r\n')
  const { result } = await importText(tdb, newer)
  t.match(result, { status: 'imported', records: 2, hooksInserted: 1, hooksUpdated: 1, hooksUnchanged: 0, usersInserted: 1, usersUpdated: 1 })
  const stored = await hooks(tdb)
  t.same(stored.map((h) => h.hook_id), [5000, 5001, 5100, 5200, 6000])
  t.equal(stored[0]?.repo_name, 'dotfiles-renamed')
  t.equal((await users(tdb))[0]?.oauth_token, null, 'an empty token is a revoked one')
})

for (const again of [false, true]) t.test(`columns in any order, BOM, CRLF, quoted commas, quotes and newlines, SQL as data${how(again)}`, async (t) => {
  const tdb = await testDatabase(t)
  const cols = [...LEGACY_CSV_COLUMNS].reverse()
  const values: Record<string, string> = {
    github_user_id: '7', login: 'o\'brien', oauth_token: 'gho_x', scopes: 'repo', kind: 'repo', owner_id: '7',
    owner_login: 'o\'brien', owner_type: 'User', repo_id: '77', repo_name: '"a, ""quoted""\r\nname"',
    hook_id: '777', hook_url: 'https://ci.example.com/h', created_at: '2020-02-29 23:59:59+01:00',
  }
  const hostile = { ...values, repo_id: '78', hook_id: '778', repo_name: `"'); drop table legacy.webhooks; --"`, created_at: '2020-01-01' }
  const text = '\ufeff' + cols.join(',') + '\r\n' + cols.map((c) => values[c]).join(',') + '\r\n' + cols.map((c) => hostile[c as keyof typeof hostile]).join(',') + '\r\n'
  const { result, problems, reads } = await importText(tdb, text, 7, again)
  t.equal(reads, 1)
  t.same(problems, [])
  t.match(result, { status: 'imported', records: 2 })
  const stored = await hooks(tdb)
  t.equal(stored[0]?.repo_name, 'a, "quoted"\r\nname')
  t.equal(stored[0]?.created_at?.toISOString(), '2020-02-29T22:59:59.000Z')
  t.equal(stored[1]?.repo_name, "'); drop table legacy.webhooks; --")
  t.equal(stored[1]?.created_at?.toISOString(), '2020-01-01T00:00:00.000Z', 'no offset means UTC')
  t.equal((await users(tdb))[0]?.login, "o'brien")
})

for (const again of [false, true]) t.test(`a header with no rows imports nothing and succeeds${how(again)}`, async (t) => {
  const tdb = await testDatabase(t)
  const { result } = await importText(tdb, HEADER + '\n', 0, again)
  t.match(result, { status: 'imported', records: 0, hooksInserted: 0, usersInserted: 0 })
})

for (const again of [false, true]) t.test(`header problems are all named and nothing is written${how(again)}`, async (t) => {
  const tdb = await testDatabase(t)
  const cases: [string | Buffer, RegExp][] = [
    ['', /the file is empty/],
    [HEADER.replace('login', 'username') + '\n' + row(), /unknown column "username".*missing column login/],
    [HEADER + ',kind\n', /column "kind" appears twice/],
    [HEADER.replace(',created_at', '') + '\n', /missing column created_at/],
    [HEADER.replace('kind', '"ki"nd"') + '\n', /header line has text after the closing quote/],
    [Buffer.concat([Buffer.from(HEADER), Buffer.from([0xff, 0x0a])]), /header line is not valid UTF-8/],
  ]
  for (const [text, message] of cases) {
    await t.rejects(importText(tdb, text, 0, again), { name: 'CsvHeaderError', message })
  }
  t.equal((await hooks(tdb)).length, 0)
  t.equal((await tdb.db.selectFrom('app.legacy_import').selectAll().execute()).length, 0)
  t.type(new CsvHeaderError(['x']).problems, Array)
})

// Each case alone in an otherwise good file (the fast check raises, the thorough one names
// it), and all of them together (every bad row reported in one run, by physical line).
const BAD: [string, string][] = [
  [row({ github_user_id: 'abc' }), 'github_user_id is not a positive whole number'],
  [row({ github_user_id: '' }), 'github_user_id is missing'],
  [row({ owner_id: '0' }), 'owner_id is not a positive whole number'],
  [row({ hook_id: '99999999999999999999' }), 'hook_id is not a positive whole number'],
  [row({ hook_id: ' 5' }), 'hook_id is not a positive whole number'],
  [row({ repo_id: '0x10' }), 'repo_id is not a positive whole number'],
  [row({ login: '' }), 'login is missing'],
  [row({ kind: 'team' }), 'kind must be repo or org'],
  [row({ kind: '' }), 'kind is missing'],
  [row({ owner_login: '' }), 'owner_login is missing'],
  [row({ owner_type: 'Bot' }), 'owner_type must be User or Organization'],
  [row({ owner_type: '' }), 'owner_type is missing'],
  [row({ kind: 'org', repo_id: '', repo_name: '' }), 'kind org needs owner_type Organization'],
  [row({ repo_id: '' }), 'repo_id is missing for kind repo'],
  [row({ kind: 'org', owner_type: 'Organization', repo_name: '' }), 'repo_id must be empty for kind org'],
  [row({ kind: 'org', owner_type: 'Organization', repo_id: '' }), 'repo_name must be empty for kind org'],
  [row({ hook_url: 'ftp://x' }), 'hook_url is not an http:// or https:// URL'],
  [row({ hook_url: '' }), 'hook_url is missing'],
  [row({ hook_url: 'http://' }), 'hook_url is not an http:// or https:// URL'],
  [row({ hook_url: 'https://' }), 'hook_url is not an http:// or https:// URL'],
  [row({ created_at: '2021-1x-01' }), 'created_at is not an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ)'],
  [row({ created_at: '2021-02-29T00:00:00Z' }), 'created_at is not an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ)'],
  [row({ created_at: 'yesterday' }), 'created_at is not an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ)'],
  [row({ created_at: '2021-13-01' }), 'created_at is not an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ)'],
  [row() + ',extra', 'the line has 14 fields where the header has 13'],
  [row().replace('dotfiles', 'dot"files'), 'the line has a quote inside a field that does not start with one'],
  [row().replace('dotfiles', '"dot"files'), 'the line has text after the closing quote of a field'],
  [row().replace('dotfiles', 'dot\rfiles'), 'the line has a carriage return outside quotes'],
  [row().replace('dotfiles', 'dot\u0000files'), 'the line contains a NUL byte'],
]

for (const again of [false, true]) t.test(`each kind of bad row is rejected with its reason, and nothing is written${how(again)}`, async (t) => {
  const tdb = await testDatabase(t)
  for (const [bad, reason] of BAD) {
    const text = [HEADER, row({ hook_id: '1', repo_id: '1' }), bad.replace(',5000,', ',2,').replace(',1000,', ',2,')].join('\n')
    const { result, problems, reads } = await importText(tdb, text, 0, again)
    t.equal(reads, again ? 2 : 1, 'a file with a problem is read again, to name it')
    t.match(result, { status: 'rejected', problems: 1 }, reason)
    t.same(problems, [{ line: 3, reason }], reason)
  }
  t.equal((await hooks(tdb)).length, 0)
})

t.test('every bad row of a file is reported at its physical line in one run', async (t) => {
  const tdb = await testDatabase(t)
  await importText(tdb, GOOD)
  const before = await writes(tdb)
  const lines = [HEADER, row({ repo_name: '"multi\nline\nname"' })]
  const expected: ImportProblem[] = []
  let line = 5 // the header, then a record spanning three lines
  BAD.forEach(([bad, reason], i) => {
    lines.push(bad.replace(',5000,', `,${9000 + i},`).replace(',1000,', `,${9000 + i},`))
    expected.push({ line, reason })
    line++
  })
  lines.push(Buffer.from([0x31, 0xc3, 0x28]).toString('latin1'))
  const text = Buffer.concat([Buffer.from(lines.join('\n') + '\n'), Buffer.from(row({ hook_id: '8000' }).replace('mona', 'mo\xc3\x28na'), 'latin1')])
  const { result, problems } = await importText(tdb, text, 5)
  expected.push({ line, reason: 'the line has 1 field where the header has 13' }, { line: line + 1, reason: 'the line is not valid UTF-8' })
  t.match(result, { status: 'rejected' })
  t.same(problems, expected)
  t.equal(await writes(tdb), before, 'the earlier import is untouched')
})

for (const again of [false, true]) t.test(`one hook_id on two lines: identical lines merge, different ones are named${how(again)}`, async (t) => {
  const tdb = await testDatabase(t)
  const same = await importText(tdb, [HEADER, row(), row(), row({ hook_id: '5001' })].join('\n'), 0, again)
  t.match(same.result, { status: 'imported', records: 3, hooksInserted: 2 })
  const differs = await importText(tdb, [HEADER, row({ hook_id: '7' }), row({ hook_id: '8' }), row({ hook_id: '7', repo_name: 'other' }), row({ hook_id: '7', repo_name: 'third' })].join('\n'), 0, again)
  t.same(differs.problems, [
    { line: 4, reason: 'hook_id 7 is also on line 2 with different contents' },
    { line: 5, reason: 'hook_id 7 is also on line 2 with different contents' },
  ])
  t.equal((await hooks(tdb)).length, 2, 'the rejected file wrote nothing')
})

t.test('a large first import rebuilds the indexes it dropped', async (t) => {
  const tdb = await testDatabase(t)
  const dir = await tempDir(t, 'import')
  const file = path.join(dir, 'big.csv')
  await writeLegacyCsv(file, 60_000)
  const indexes = async () => (await sql<{ indexdef: string }>`select indexdef from pg_indexes where schemaname = 'legacy' and tablename = 'webhooks' order by 1`.execute(tdb.db)).rows
  const before = await indexes()
  const result = await importLegacyCsv(tdb.pool, createReadStream(file), { fileName: file, onProblem: () => t.fail('no problem expected') })
  t.match(result, { status: 'imported', records: 60_000, hooksInserted: 60_000, usersInserted: 15_000 })
  t.same(await indexes(), before)
  const again = await importLegacyCsv(tdb.pool, createReadStream(file), { fileName: file, onProblem: () => t.fail('no problem expected') })
  t.match(again, { status: 'imported', hooksUnchanged: 60_000 })
  const stored = await contents(tdb)

  // The fast path of a file that can be read again: the same rows, the same indexes.
  await sql`truncate legacy.webhooks, legacy.oauth_users restart identity`.execute(tdb.db)
  const fast = await importLegacyCsv(tdb.pool, () => createReadStream(file), { fileName: file, onProblem: () => t.fail('no problem expected') })
  t.match(fast, { status: 'imported', records: 60_000, hooksInserted: 60_000, usersInserted: 15_000 })
  t.same(await indexes(), before)
  t.equal(await contents(tdb), stored)
})

t.test('a connection lost in the middle of the file: the error, nothing written, the pool healthy', async (t) => {
  const tdb = await testDatabase(t)
  const source = new Readable({ read() {} })
  source.push(`${HEADER}\n${row()}\n`)
  // Expected to fail: watched from now on, as it may fail while the loop below still waits.
  const failed = t.rejects(importLegacyCsv(tdb.pool, source, { fileName: 'slow.csv', onProblem: () => {} }))
  const killer = connect(tdb.url, { max: 1 })
  t.teardown(() => killer.close())
  // Wait until the import's COPY is running, then end its session as an operator might.
  for (;;) {
    const { rows } = await sql<{ pid: number }>`select pid from pg_stat_activity where query like 'copy pg_temp.import_row%'`.execute(killer.db)
    if (rows[0]) {
      await sql`select pg_terminate_backend(${rows[0].pid})`.execute(killer.db)
      break
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  source.push(`${row({ hook_id: '5001', repo_id: '1001' })}\n`)
  source.push(null)
  await failed
  t.equal((await hooks(tdb)).length, 0)
  t.match(await importText(tdb, GOOD), { result: { status: 'imported' } }, 'the next import gets a working connection')
})

for (const again of [false, true]) t.test(`a database error that is not about a row is thrown, and nothing is written${how(again)}`, async (t) => {
  const tdb = await testDatabase(t)
  await sql`alter table legacy.webhooks add constraint no_acme check (owner_login <> 'acme')`.execute(tdb.db)
  await t.rejects(importText(tdb, GOOD, 0, again), { code: '23514' })
  t.equal((await users(tdb)).length, 0)
})

t.test('a first import of a file that can be read again: a user\'s last line wins wherever it is', async (t) => {
  const tdb = await testDatabase(t)
  // Users already known (only the hooks' table is empty): updated, kept or added.
  await sql`insert into legacy.oauth_users values (1, 'mona-old', 'gho_old', 'repo'), (3, 'octo', 'gho_octo', 'repo'), (9, 'kept', null, null)`.execute(tdb.db)
  const text = [
    HEADER,
    row({ login: 'mona-first' }),
    '',
    row({ github_user_id: '3', login: 'octo', oauth_token: 'gho_octo', scopes: 'repo', hook_id: '5100', repo_id: '1100' }),
    row({ login: 'mona-second', hook_id: '5001', repo_id: '1001' }),
    row({ github_user_id: '"4"', login: 'hubot', hook_id: '5400', repo_id: '1400' }),
  ].join('\n')
  const { result, problems, reads } = await importFile(tdb, text.replace('"4"', '4'), 11)
  t.same(problems, [])
  t.equal(reads, 1)
  t.match(result, { status: 'imported', records: 4, hooksInserted: 4, usersInserted: 1, usersUpdated: 1, usersUnchanged: 1 })
  t.same((await users(tdb)).map((u) => [u.github_user_id, u.login]), [[1, 'mona-second'], [3, 'octo'], [4, 'hubot'], [9, 'kept']])

  const fresh = await testDatabase(t)
  const quoted = await importFile(fresh, text, 11)
  t.equal(quoted.reads, 1, 'an id in quotes is read as the id')
  t.match(quoted.result, { status: 'imported', records: 4, hooksInserted: 4, usersInserted: 3 })
  t.same((await users(fresh)).map((u) => [u.github_user_id, u.login]), [[1, 'mona-second'], [3, 'octo'], [4, 'hubot']])
})

t.test('a first import with many users: every user arrives, each with its last line', async (t) => {
  const tdb = await testDatabase(t)
  // Long tokens, so that the users' rows outgrow what the import keeps in memory at a time.
  const lines = [HEADER]
  const n = 3000
  for (let i = 1; i <= n; i++) {
    const token = `gho_${String(i).padStart(1000, '0')}`
    lines.push(row({ github_user_id: String(i), login: `u${i}`, oauth_token: token, hook_id: String(i), repo_id: String(i) }))
  }
  lines.push(row({ github_user_id: '1', login: 'u1-last', hook_id: String(n + 1), repo_id: String(n + 1) }))
  const { result, reads } = await importFile(tdb, lines.join('\r\n') + '\r\n')
  t.equal(reads, 1)
  t.match(result, { status: 'imported', records: n + 1, hooksInserted: n + 1, usersInserted: n })
  const stored = await users(tdb)
  t.equal(stored.length, n)
  t.match(stored[0], { github_user_id: 1, login: 'u1-last' })
  t.equal(stored[n - 1]?.oauth_token, `gho_${String(n).padStart(1000, '0')}`)
})

t.test('ids up to the largest bigint, in a file that can be read again', async (t) => {
  const tdb = await testDatabase(t)
  const max = '9223372036854775807'
  const ok = await importFile(tdb, [HEADER, row({ hook_id: max, owner_id: '1000000000000000000', repo_id: '9223372036854775799' })].join('\n'))
  t.equal(ok.reads, 1)
  t.match(ok.result, { status: 'imported', hooksInserted: 1 })
  t.equal(String((await sql<{ h: string }>`select hook_id::text as h from legacy.webhooks`.execute(tdb.db)).rows[0]?.h), max)
  const fresh = await testDatabase(t)
  const over = await importFile(fresh, [HEADER, row({ hook_id: '9223372036854775808' })].join('\n'))
  t.same(over.problems, [{ line: 2, reason: 'hook_id is not a positive whole number' }])
  t.equal(over.reads, 2)
})
