import pg from 'pg'
import t from 'tap'
import { testDatabase } from '../helpers/database.js'

// bigint and bigint[] come back as numbers: the wizard reads thousands of hook_ids arrays a page,
// so a plain array is split directly; anything else goes through pg's general parser.

t.test('bigint arrays read as arrays of numbers, plain ones and the rest alike', async (t) => {
  const tdb = await testDatabase(t, { migrate: false })
  const read = async (literal: string): Promise<unknown> => (await tdb.pool.query<{ a: unknown }>(`select $1::bigint[] as a`, [literal])).rows[0]!.a
  t.same(await read('{}'), [], 'empty')
  t.same(await read('{7}'), [7], 'one element')
  t.same(await read('{1,-2,9007199254740991}'), [1, -2, 9007199254740991], 'several, signed, up to the largest safe integer')
  const general = (pg.types.getTypeParser as (oid: number, format: 'text') => (value: string) => string[])(1016, 'text')
  t.same(await read('{1,NULL}'), general('{1,NULL}').map(Number), 'an array with a null: the general parser, as before')
  const { rows } = await tdb.pool.query<{ n: unknown }>(`select 9007199254740991::bigint as n`)
  t.equal(rows[0]!.n, 9007199254740991, 'a bigint is a number')
})
