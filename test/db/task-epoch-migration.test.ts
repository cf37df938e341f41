import { sql, type Kysely } from 'kysely'
import t from 'tap'
import type { Database } from '../../src/db/database.js'
import { migrateTo, migrateToLatest } from '../../src/db/migrator.js'
import { testDatabase } from '../helpers/database.js'

// Each owner's removal tasks have an epoch that moves with every statement writing them
// (migration 0021): owners with tasks before the migration start with one, and writers of the
// same owners at once wait their turn on the epochs' rows, never in a cycle.

const epochs = async (db: Kysely<Database>) => (await sql<{ owner_id: string; epoch: string }>`select owner_id, epoch from app.task_epoch order by owner_id`.execute(db)).rows.map((r) => [Number(r.owner_id), Number(r.epoch)])

const tasks = (ownerIds: number[], from: number) =>
  sql`insert into app.cleanup_task (hook_id, kind, owner_id, owner_login, repo_id, repo_name, enabled_by, requested_by)
    select ${from} + i, 'repo', (${ownerIds}::bigint[])[1 + i % ${ownerIds.length}], 'owner', ${from} + i, 'repo', 1, 1 from generate_series(0, ${ownerIds.length * 3 - 1}) i`

t.test("the owners of the tasks there before start with an epoch; a statement moves each of its owners' once", async (t) => {
  const tdb = await testDatabase(t, { migrate: false })
  await migrateTo(tdb.db, '0020-batch-touched')
  await tasks([10, 20], 1000).execute(tdb.db)
  await migrateToLatest(tdb.db)
  t.same(await epochs(tdb.db), [[10, 1], [20, 1]])

  await tasks([20, 30], 2000).execute(tdb.db)
  t.same(await epochs(tdb.db), [[10, 1], [20, 2], [30, 1]], 'six tasks of two owners inserted: each owner once')
  await sql`update app.cleanup_task set owner_id = 30 where hook_id = 1000`.execute(tdb.db)
  t.same(await epochs(tdb.db), [[10, 2], [20, 2], [30, 2]], 'a task moved to another owner: both')
  await sql`update app.cleanup_task set state = 'removed' where hook_id = -1`.execute(tdb.db)
  t.same(await epochs(tdb.db), [[10, 2], [20, 2], [30, 2]], 'a statement that writes nothing: none')
  await sql`delete from app.cleanup_task where owner_id = 20`.execute(tdb.db)
  t.same(await epochs(tdb.db), [[10, 2], [20, 3], [30, 2]])
  await sql`truncate app.cleanup_task`.execute(tdb.db)
  t.same(await epochs(tdb.db), [[10, 3], [20, 4], [30, 3]], 'emptied: every owner')
})

t.test("writers of overlapping owners at once, as the service writes them: none deadlocks, every write counted", async (t) => {
  const tdb = await testDatabase(t, { max: 12 })
  // The service's writers: planning removal (one statement over any owners, listed in any order,
  // with an audit event after it) and a task's move (one task, one owner a transaction). Each
  // holds its locks a moment before it commits.
  const orders = [
    [1, 2, 3],
    [3, 2, 1],
    [2, 3, 1],
    [3, 1],
  ]
  const planning = (order: number[], n: number) =>
    tdb.db.transaction().execute(async (trx) => {
      await tasks(order, 100_000 * (n + 1)).execute(trx)
      await sql`select pg_sleep(0.005)`.execute(trx)
    })
  const move = (hookId: number) =>
    tdb.db.transaction().execute(async (trx) => {
      await sql`update app.cleanup_task set state = 'attempting' where hook_id = ${hookId}`.execute(trx)
      await sql`select pg_sleep(0.005)`.execute(trx)
    })
  await tasks([1, 2, 3], 1).execute(tdb.db)
  const results = await Promise.allSettled([...Array.from({ length: 8 }, (_, n) => planning(orders[n % orders.length]!, n)), ...[1, 2, 3, 4].map(move)])
  t.same(
    results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
    [],
    'no transaction failed (a deadlock is 40P01)',
  )
  // The first statement; the plannings (owners 1 and 3 in all eight, 2 in six); the moves of hooks 1-4 (owners 1, 2, 3, 1).
  t.same(await epochs(tdb.db), [[1, 1 + 8 + 2], [2, 1 + 6 + 1], [3, 1 + 8 + 1]], "every statement moved each of its owners' epoch once")
})
