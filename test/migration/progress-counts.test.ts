import t from 'tap'
import { appendAudit } from '../../src/migration/audit.js'
import { removalsByDay } from '../../src/migration/progress-counts.js'
import { testDatabase } from '../helpers/database.js'

t.test('removals per day with their running total, counting what came before the window', async (t) => {
  const { db } = await testDatabase(t)
  const removal = (outcome: string) => appendAudit(db, { actor: { kind: 'system' }, action: 'hook_cleanup', target: { hookId: 1 }, outcome })
  await removal('removed')
  await removal('already_absent')
  await removal('needs_manual')
  const day = 86_400_000
  const today = new Date().toISOString().slice(0, 10)
  const inTwoDays = new Date(Date.now() + 2 * day)
  const days = await removalsByDay(db, 3, inTwoDays)
  t.same(days.map((d) => [d.removed, d.total]), [
    [2, 2],
    [0, 2],
    [0, 2],
  ])
  t.equal(days[0]!.day, today)
  t.same(await removalsByDay(db, 1, inTwoDays), [{ day: inTwoDays.toISOString().slice(0, 10), removed: 0, total: 2 }], 'earlier removals carried in')
})
