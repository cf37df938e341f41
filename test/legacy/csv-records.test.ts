import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import t from 'tap'
import { LEGACY_CSV_COLUMNS, LegacyCsvRecords } from '../../src/legacy/csv-records.js'

const HEADER = LEGACY_CSV_COLUMNS.join(',')
const EMPTY = ','.repeat(LEGACY_CSV_COLUMNS.length - 1)
const ROW = '1,mona,gho_x,"repo,admin:repo_hook",repo,1,mona,User,1000,"a ""b""\r\nc",5000,https://x.example/h,2017-03-01T10:00:00Z'

async function scan(input: string, chunk: number): Promise<{ out: string; records: LegacyCsvRecords }> {
  const bytes = Buffer.from(input)
  const parts: Buffer[] = []
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk))
  const records = new LegacyCsvRecords()
  const out = await text(Readable.from(parts).pipe(records))
  return { out, records }
}

t.test('the COPY rows are the same whatever the chunking', async (t) => {
  const input = `\ufeff"github_user_id",${HEADER.slice('github_user_id,'.length)}\r\n${ROW}\r\n\r\n${ROW}\n${ROW}`
  const whole = await scan(input, input.length + 1)
  t.equal(whole.out, `2,,${ROW}\n5,,${ROW}\n7,,${ROW}\n`, 'lines count quoted newlines and blank lines')
  t.same(await whole.records.columns, LEGACY_CSV_COLUMNS)
  t.equal(whole.records.records, 3)
  for (const chunk of [1, 2, 3, 5, 64]) {
    const parts = await scan(input, chunk)
    t.equal(parts.out, whole.out, `chunks of ${chunk}`)
    t.equal(parts.records.bytes, Buffer.byteLength(input))
  }
})

t.test('a malformed record keeps its line, its reason and empty fields', async (t) => {
  for (const chunk of [1, 1000]) {
    const { out, records } = await scan(`${HEADER}\n1,"unclosed\n`, chunk)
    t.equal(out, `2,"has a quoted field that is never closed",${EMPTY}\n`)
    t.equal(records.malformed, 1)
    const cr = await scan(`${HEADER}\n${ROW.replace('mona', 'mo\rna')}\r`, chunk)
    t.equal(cr.out, `2,"has a carriage return outside quotes",${EMPTY}\n`)
  }
  const quoted = await scan(`${HEADER}\n${ROW.replace('gho_x', '"gho"x"')}\r\n${ROW}`, 1000)
  t.equal(quoted.out, `2,"has text after the closing quote of a field",${EMPTY}\n4,,${ROW}\n`)
})

t.test('a header that never ends, or is only a blank line, is refused', async (t) => {
  const open = await scan('"github_user_id', 4).catch((e: Error) => e)
  t.match(open, { name: 'CsvHeaderError', message: /header line has a quoted field that is never closed/ })
  const blank = await scan('\n', 1).catch((e: Error) => e)
  t.match(blank, { name: 'CsvHeaderError', message: /the file is empty/ })
  const nameless = await scan(`${HEADER},\n`, 100).catch((e: Error) => e)
  t.match(nameless, { message: /a column has no name/ })
  const few = await scan('github_user_id,login\n', 100).catch((e: Error) => e)
  t.match(few, { message: /missing columns oauth_token, scopes, kind,/ })
  const escaped = await scan(`"git""hub",${HEADER}\n`, 3).catch((e: Error) => e)
  t.match(escaped, { message: /unknown column "git"hub"/ })
})
