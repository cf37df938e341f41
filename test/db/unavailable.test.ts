import pg from 'pg'
import t from 'tap'
import { connect } from '../../src/db/connect.js'
import { unavailable } from '../../src/db/unavailable.js'
import { testDatabase } from '../helpers/database.js'

// Told apart against a real Postgres: what a database that is away says, and what a fault of
// ours says.

async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run()
  } catch (error) {
    return error
  }
  throw new Error('it did not fail')
}

t.test('a server that refuses the connection, a connection that times out: unavailable', async (t) => {
  const refused = connect('postgres://postgres@127.0.0.1:1/x', { max: 1 })
  t.teardown(() => refused.close())
  t.ok(unavailable(await failure(() => refused.pool.query('select 1'))), 'ECONNREFUSED')
  t.ok(unavailable(new Error('timeout exceeded when trying to connect')), "the pool's own timeout")
  t.ok(unavailable(Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], 'every address refused'), {})), 'every address of a host refused')
})

t.test('a connection ended by the server (as on shutdown) and one used after it: unavailable', async (t) => {
  const tdb = await testDatabase(t)
  const client = new pg.Client({ connectionString: tdb.url })
  client.on('error', () => {})
  await client.connect()
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid')
  const terminated = failure(() => client.query('select pg_sleep(5)'))
  await tdb.pool.query('select pg_terminate_backend($1)', [rows[0]!.pid])
  const error = await terminated
  t.match(error, { code: '57P01' }, 'terminating connection due to administrator command')
  t.ok(unavailable(error))
  t.ok(unavailable(await failure(() => client.query('select 1'))), 'the client after it')
  await client.end().catch(() => {})
  t.ok(unavailable(new Error('Connection terminated unexpectedly')))
  for (const code of ['57P02', '57P03', '08006', '08001', '53300']) t.ok(unavailable(Object.assign(new Error('x'), { code })), code)
})

t.test("a fault of ours is not: syntax, a constraint, a missing table, a plain error", async (t) => {
  const tdb = await testDatabase(t)
  t.notOk(unavailable(await failure(() => tdb.pool.query('selec 1'))), 'syntax error')
  t.notOk(unavailable(await failure(() => tdb.pool.query('select 1/0'))), 'division by zero')
  t.notOk(unavailable(await failure(() => tdb.pool.query('select * from nowhere'))), 'no such table')
  await tdb.pool.query('create table once (id int primary key)')
  await tdb.pool.query('insert into once values (1)')
  t.notOk(unavailable(await failure(() => tdb.pool.query('insert into once values (1)'))), 'unique violation')
  t.notOk(unavailable(new Error('something else')))
  t.notOk(unavailable(undefined))
  t.notOk(unavailable('ECONNREFUSED'), 'a string is not an error')
  t.notOk(unavailable(Object.assign(new Error('x'), { code: 42 })), 'a code that is not a string')
})

t.test('wrapped: found in the cause, as far down as five; a loop of causes ends', async (t) => {
  const lost = Object.assign(new Error('lost'), { code: 'ECONNRESET' })
  const wrap = (inner: unknown, times: number): unknown => (times === 0 ? inner : new Error('wrapper', { cause: wrap(inner, times - 1) }))
  t.ok(unavailable(wrap(lost, 5)))
  t.notOk(unavailable(wrap(lost, 6)), 'deeper than that is not looked at')
  const loop = new Error('a') as Error & { cause: unknown }
  loop.cause = loop
  t.notOk(unavailable(loop))
})
