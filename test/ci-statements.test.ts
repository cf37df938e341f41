import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { bashArray, excluded, untried } from './ci-statements.js'
import { normalizeStatement } from './helpers/statement-probe.js'

const script = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8')

t.test(".ci/run's lists name test files that exist, each once, and none twice", async (t) => {
  const once = bashArray(script, 'once')
  const covered = bashArray(script, 'covered')
  t.ok(once.length > 0 && covered.length > 0, 'both lists read')
  for (const file of [...once, ...covered]) {
    const real = file.endsWith('/**') ? file.slice(0, -3) : file
    t.ok(existsSync(new URL(`../${real}`, import.meta.url)), `${file} exists`)
  }
  t.same(covered.filter((file) => excluded(file, once)), [], 'none of the covered list is also run once')
  t.equal(new Set(covered).size, covered.length, 'no file listed twice')
})

t.test('a statement only suites run once issue is named, with those suites', async (t) => {
  const records = [
    { file: 'test/a.test.ts', statements: ['select N', 'update x'] },
    { file: 'test/b.test.ts', statements: ['select N', 'delete from y'] },
    { file: 'test/simulator/c.test.ts', statements: ['insert into z'] },
    { file: 'test/d.test.ts', statements: ['select N'] },
  ]
  const missing = untried(records, ['test/simulator/**'], ['test/b.test.ts', 'test/d.test.ts'])
  t.same([...missing], [
    ['delete from y', ['test/b.test.ts']],
    ['insert into z', ['test/simulator/c.test.ts']],
  ])
  t.same([...untried(records, [], [])], [], 'nothing is missing when every suite runs twice')
})

t.test('one statement with other values is one statement', async (t) => {
  t.equal(normalizeStatement("select  *\n from t where id = 42 and name = 'it''s'"), "select * from t where id = N and name = '?'")
  t.equal(normalizeStatement('select $1::int'), 'select $N…::int')
  t.equal(normalizeStatement('delete from t where a = $1 and b in ($2, $3,\n $4)'), normalizeStatement('delete from t where a = $9 and b in ($10)'), 'a list of any length')
  t.equal(normalizeStatement('insert into t (a, b) values ($1, $2), ($3, $4), ($5, $6)'), 'insert into t (a, b) values ($N…), …', 'rows of any number')
  t.not(normalizeStatement('select a from t where b = $1'), normalizeStatement('select a from t where c = $1'), 'another column is another statement')
})

t.test('a list .ci/run does not have is an error, not an empty list', async (t) => {
  t.throws(() => bashArray(script, 'nowhere'), /no array nowhere/)
})
