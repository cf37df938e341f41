import { Readable } from 'node:stream'
import t from 'tap'
import { LEGACY_CSV_COLUMNS } from '../../src/legacy/csv-records.js'
import { LegacyCsvTypedRows, type TypedRows } from '../../src/legacy/csv-typed-rows.js'

// The fast path's scanner on its own: what it hands the COPYs, and that it hands nothing more
// once a record puts it in doubt (the import then reads the file again on the thorough path).

const row = (hookId: number, over: Partial<Record<(typeof LEGACY_CSV_COLUMNS)[number], string>> = {}): string => {
  const base: Record<string, string> = {
    github_user_id: '1', login: 'mona', oauth_token: 'gho_legacy_mona', scopes: 'repo', kind: 'repo', owner_id: '1', owner_login: 'mona',
    owner_type: 'User', repo_id: String(hookId), repo_name: `r${hookId}`, hook_id: String(hookId), hook_url: 'https://ci.example.com/h', created_at: '2017-03-01T10:00:00Z',
  }
  return LEGACY_CSV_COLUMNS.map((c) => over[c] ?? base[c]).join(',')
}

async function read(chunks: string[]): Promise<{ rows: TypedRows[]; scanner: LegacyCsvTypedRows }> {
  const scanner = new LegacyCsvTypedRows()
  const rows: TypedRows[] = []
  for await (const part of Readable.from(chunks.map((c) => Buffer.from(c))).pipe(scanner)) rows.push(part as TypedRows)
  return { rows, scanner }
}

t.test('a clean file: every hook, and one row for a user whose lines are together', async (t) => {
  const { rows, scanner } = await read([`${LEGACY_CSV_COLUMNS.join(',')}\n${row(1)}\n${row(2)}\n`, `${row(3)}\n`])
  t.equal(scanner.doubt, false)
  t.equal(rows.map((r) => r.hooks.toString()).join('').split('\n').filter(Boolean).length, 3)
  t.same(rows.map((r) => r.users.toString()).join('').split('\n').filter(Boolean), ['4,1,mona,gho_legacy_mona,repo'])
})

t.test('in doubt at one record: nothing of it or after it is handed on, whatever the chunks', async (t) => {
  const { rows, scanner } = await read([`${LEGACY_CSV_COLUMNS.join(',')}\n${row(1)}\n${row(2, { kind: 'team' })}\n`, `${row(3)}\n${row(4)}\n`])
  t.equal(scanner.doubt, true)
  t.same(rows.map((r) => r.hooks.toString()).join(''), '', 'not even the clean hook before it: its chunk stopped with the doubt')
  t.notMatch(rows.map((r) => r.hooks.toString()).join(''), /,3,|,4,/, 'the next chunk is not read into rows')
})
