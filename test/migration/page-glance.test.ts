import t from 'tap'
import { consentOf } from '../../src/migration/cleanup-task.js'
import { loadWork } from '../../src/migration/background-work.js'
import { pageGlance } from '../../src/migration/page-glance.js'
import { planFingerprint } from '../../src/migration/plan-cache.js'
import { savePlan } from '../../src/migration/plan-store.js'
import { taskScope, tasksFingerprint } from '../../src/migration/task-cache.js'
import { testDatabase } from '../helpers/database.js'

// A revisit of a kept plan's page reads its fingerprints, progress and consent in one statement:
// what it reads must be what the separate reads of a first visit give, or the page kept would
// show another moment's progress.

const mona = { id: 1, login: 'mona' }
const acme = { id: 100, login: 'acme', type: 'Organization' as const }
const work = (kind: 'plan' | 'coverage', subjectId: number, state: 'running' | 'done') => ({
  kind,
  subject_id: subjectId,
  state,
  phase: state === 'running' ? 'listing' : null,
  done: 1,
  total: 3,
  outcome: state === 'done' ? 'covered' : null,
  message: null,
  started_at: new Date('2026-12-01T10:00:00.123Z'),
  finished_at: state === 'done' ? new Date() : null,
})

t.test('one statement reads what the separate reads of a visit do', async (t) => {
  const { db } = await testDatabase(t)
  const owners = [mona.id, acme.id, 200]
  const scope = taskScope(owners, [5000, 5001])
  const separately = async () => ({
    planFingerprint: (await planFingerprint(db, mona.id)) ?? null,
    tasksFingerprint: await tasksFingerprint(db, scope),
    planning: (await loadWork(db, 'plan', [mona.id]))[0],
    coverage: await loadWork(db, 'coverage', owners),
    consent: await consentOf(db, mona.id),
  })

  const none = await pageGlance(db, mona.id, owners, scope)
  t.strictSame(none, await separately(), 'nothing yet')
  t.equal(none.planFingerprint, null, 'no plan: no fingerprint, which no kept plan matches')
  t.same(none.coverage, [])

  await savePlan(db, mona, {
    batches: [
      { owner: { id: mona.id, login: mona.login, type: 'User' }, role: 'owner', action: 'install', repos: [{ id: 1000, name: 'site', private: false, moved: false, enabledBy: ['mona'], hookIds: [5000], unseen: null }], hiddenRepos: 0, orgHooks: [] },
      { owner: acme, role: 'admin', action: 'install', repos: [], hiddenRepos: 0, orgHooks: [{ hookId: 5001, enabledBy: ['mona'] }] },
    ],
    gone: [],
    notes: [],
  })
  // The user is also the owner of their personal account: a planning and a check of the same id.
  await db.insertInto('app.background_work').values([work('plan', mona.id, 'done'), work('coverage', acme.id, 'running'), work('coverage', mona.id, 'done'), work('coverage', 999, 'running')]).execute()
  await db.insertInto('app.cleanup_task').values({ hook_id: 5000, kind: 'repo', owner_id: mona.id, owner_login: mona.login, repo_id: 1000, repo_name: 'mona/site', enabled_by: mona.id, requested_by: mona.id, state: 'pending', reason: null }).execute()
  await db.insertInto('app.cleanup_consent').values({ user_id: mona.id, user_login: mona.login, auto: true }).execute()

  const glance = await pageGlance(db, mona.id, owners, scope)
  t.strictSame(glance, await separately(), 'a plan, its planning, two owners checked, a task, consent')
  t.not(glance.planFingerprint, null)
  t.not(glance.tasksFingerprint, none.tasksFingerprint, 'a task added changes its fingerprint')
  t.same(
    glance.coverage.map((w) => w.subject_id),
    [mona.id, acme.id],
    "the owners' checks by owner, and only theirs",
  )
  t.type(glance.planning!.started_at, Date, 'times as dates, as a plain read gives them')
  t.same(glance.consent, { auto: true })
})
