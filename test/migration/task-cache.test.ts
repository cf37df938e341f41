import t from 'tap'
import { sql } from 'kysely'
import { tasksOf } from '../../src/migration/cleanup-task.js'
import { taskCache, taskScope, tasksFingerprint } from '../../src/migration/task-cache.js'
import { testDatabase } from '../helpers/database.js'

// An instance keeps the removal tasks it read per user and reads them again only when one of
// their rows changed, whoever changed it (a cleanup job, another instance): each kind of
// change, made behind the cache's back, is seen on the next read.

const task = (hookId: number, over: Record<string, unknown> = {}) => ({
  hook_id: hookId,
  kind: 'repo' as const,
  owner_id: 1,
  owner_login: 'mona',
  repo_id: hookId - 4000,
  repo_name: `repo-${hookId}`,
  enabled_by: 1,
  requested_by: 1,
  state: 'pending' as const,
  reason: null,
  ...over,
})

t.test('unchanged tasks are read once; a task written, added or removed is read on the next visit', async (t) => {
  const { db } = await testDatabase(t)
  await db.insertInto('app.cleanup_task').values([task(5000), task(5001), task(5002)]).execute()
  const cache = taskCache()
  const hooks = taskScope([1], [5000, 5001, 9999])
  const first = await cache.load(db, 1, hooks)
  t.same(first, await tasksOf(db, hooks), 'what a plain read gives: the hooks asked for, and only those with a task')
  t.same([...first.keys()], [5000, 5001])
  t.equal(await cache.load(db, 1, hooks), first, 'unchanged: the kept one')
  t.equal(await tasksFingerprint(db, hooks), await tasksFingerprint(db, hooks), 'the fingerprint is stable while nothing changes')

  await db.updateTable('app.cleanup_task').set({ state: 'removed', updated_at: new Date() }).where('hook_id', '=', 5001).execute()
  const written = await cache.load(db, 1, hooks)
  t.not(written, first)
  t.equal(written.get(5001)!.state, 'removed', 'a task written')
  t.equal(await cache.load(db, 1, hooks), written)

  await db.updateTable('app.cleanup_task').set({ state: 'pending' }).where('hook_id', '=', 5002).execute()
  // Its owner's epoch moved: read again (the epochs are per owner, not per hook), and the same.
  t.same(await cache.load(db, 1, hooks), written, 'a task of another hook of the same owner: the same tasks')

  await db.insertInto('app.cleanup_task').values(task(9999)).execute()
  t.same([...(await cache.load(db, 1, hooks)).keys()].sort(), [5000, 5001, 9999], 'a task added')
  await db.deleteFrom('app.cleanup_task').where('hook_id', '=', 5000).execute()
  t.same([...(await cache.load(db, 1, hooks)).keys()].sort(), [5001, 9999], 'a task removed')
  await db.deleteFrom('app.cleanup_task').execute()
  t.same([...(await cache.load(db, 1, hooks)).keys()], [], 'none left')
})

t.test('kept per user, for the users read most recently; in the snapshot of the transaction given', async (t) => {
  const { db } = await testDatabase(t)
  await db.insertInto('app.cleanup_task').values([task(5000), task(6000, { enabled_by: 3 })]).execute()
  const cache = taskCache(1)
  const mona = await cache.load(db, 1, taskScope([1], [5000]))
  const octo = await cache.load(db, 3, taskScope([1], [6000]))
  t.same([...octo.keys()], [6000])
  t.not(await cache.load(db, 1, taskScope([1], [5000])), mona, 'one user kept at most: mona, read longest ago, was let go')
  const kept = await cache.load(db, 1, taskScope([1], [5000]))
  t.equal(await cache.load(db, 1, taskScope([1], [5000])), kept)

  // A repeatable read transaction sees the tasks as at its start, whatever is written meanwhile.
  await db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      t.equal(await cache.load(trx, 1, taskScope([1], [5000])), kept)
      await db.updateTable('app.cleanup_task').set({ state: 'attempting' }).where('hook_id', '=', 5000).execute()
      t.equal((await cache.load(trx, 1, taskScope([1], [5000]))).get(5000)!.state, 'pending', 'the snapshot of the transaction')
    })
  t.equal((await cache.load(db, 1, taskScope([1], [5000]))).get(5000)!.state, 'attempting', 'after it, the write')
})

t.test("the tasks of the scope's hooks on its owners: a write of another owner's reads nothing again, a new scope does", async (t) => {
  const { db } = await testDatabase(t)
  await db.insertInto('app.cleanup_task').values([task(5000), task(5001), task(7000, { owner_id: 2, owner_login: 'acme' })]).execute()
  const cache = taskCache()
  const kept = await cache.load(db, 1, taskScope([1], [5000, 7000]))
  t.same([...kept.keys()], [5000], "hook 7000's task names another owner (its repository moved there since the plan): not the page's")
  await db.updateTable('app.cleanup_task').set({ state: 'removed' }).where('hook_id', '=', 7000).execute()
  t.equal(await cache.load(db, 1, taskScope([1], [5000, 7000])), kept, "another owner's task written: nothing to read again")

  const wider = await cache.load(db, 1, taskScope([1], [5000, 5001, 7000]))
  t.same([...wider.keys()].sort(), [5000, 5001], 'a plan made again, with a hook whose task was there all along: read again')
  const both = await cache.load(db, 1, taskScope([1, 2], [5000, 5001, 7000]))
  t.same([...both.keys()].sort(), [5000, 5001, 7000], 'and with the owner the repository moved to')

  // The writers' statements: a task planned again over one kept while not covered (an insert
  // that updates), and the whole table emptied.
  await db.updateTable('app.cleanup_task').set({ state: 'not_covered', reason: 'not covered' }).where('hook_id', '=', 5001).execute()
  t.equal((await cache.load(db, 1, taskScope([1, 2], [5000, 5001, 7000]))).get(5001)!.state, 'not_covered')
  await db
    .insertInto('app.cleanup_task')
    .values(task(5001))
    .onConflict((oc) => oc.column('hook_id').doUpdateSet({ state: 'pending', reason: null }))
    .execute()
  t.equal((await cache.load(db, 1, taskScope([1, 2], [5000, 5001, 7000]))).get(5001)!.state, 'pending', 'planned again')
  await sql`truncate app.cleanup_task`.execute(db)
  t.same([...(await cache.load(db, 1, taskScope([1, 2], [5000, 5001, 7000]))).keys()], [], 'emptied')
})
