import t from 'tap'
import type { Work } from '../../src/migration/background-work.js'
import { planningProgress, planningText } from '../../src/routes/planning-progress.js'

// What a person reads while planning runs, phase by phase.

const work = (fields: Partial<Work>): Work => ({
  kind: 'plan',
  subject_id: 1,
  state: 'running',
  again: false,
  run: 1,
  phase: null,
  done: null,
  total: null,
  outcome: null,
  message: null,
  requested_at: new Date(),
  started_at: new Date(),
  finished_at: null,
  updated_at: new Date(),
  ...fields,
})

t.test('each phase in words a person follows', async (t) => {
  t.equal(planningText(work({ state: 'queued' })), 'Waiting for its turn', 'queued behind other people')
  t.equal(planningText(work({})), 'Starting', 'started, nothing read yet')
  t.equal(planningText(work({ phase: 'repositories', done: 3, total: 20 })), 'Reading your repositories: page 3 of 20')
  t.equal(planningText(work({ phase: 'lookups', done: 4, total: 9 })), 'Looking up 9 repositories you enabled that GitHub did not list: 4 of 9')
  t.equal(planningText(work({ phase: 'lookups', done: 0, total: 1 })), 'Looking up 1 repository you enabled that GitHub did not list: 0 of 1')
  t.equal(planningText(work({ phase: 'roles', done: 7, total: 40 })), 'Checking your owners: 7 of 40')
  t.equal(planningText(work({ phase: 'installations', done: 39, total: 40 })), 'Checking where the App is installed: 39 of 40')
})

t.test('the progress answer: under way with its words, or not', async (t) => {
  t.same(planningProgress(undefined), { underWay: false, state: null, text: null })
  t.same(planningProgress(work({ state: 'queued' })), { underWay: true, state: 'queued', text: 'Waiting for its turn' })
  t.same(planningProgress(work({ state: 'done', outcome: 'planned' })), { underWay: false, state: 'done', text: null })
})
