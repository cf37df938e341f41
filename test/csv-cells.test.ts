import t from 'tap'
import { csvCell, csvRow } from '../src/csv-cells.js'

t.test('cells a spreadsheet would run as formulas get an apostrophe and quotes', async (t) => {
  for (const start of ['=', '+', '-', '@', '\t', '\r']) t.equal(csvCell(`${start}1+1`), `"'${start}1+1"`, JSON.stringify(start))
  t.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`)
})

t.test('plain cells stay as they are; quotes, commas and line breaks are quoted', async (t) => {
  t.equal(csvCell('acme/web'), 'acme/web')
  t.equal(csvCell('a,b'), '"a,b"')
  t.equal(csvCell('say "hi"'), '"say ""hi"""')
  t.equal(csvCell('two\nlines'), '"two\nlines"')
  t.equal(csvCell(-5), '-5', 'a number is a number')
  t.equal(csvCell(true), 'true')
  t.equal(csvCell(null), '')
  t.equal(csvCell(undefined), '')
  t.equal(csvCell(new Date('2026-11-30T12:00:00Z')), '2026-11-30T12:00:00.000Z')
  t.equal(csvRow(['a', 1, null]), 'a,1,\r\n')
})
