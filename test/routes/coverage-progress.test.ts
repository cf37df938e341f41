import t from 'tap'
import type { Work } from '../../src/migration/background-work.js'
import { coverageState, coverageText } from '../../src/routes/coverage-progress.js'

// What the page says of an owner's coverage check, from its row in app.background_work.

function work(over: Partial<Work>): Work {
  const at = new Date()
  return { kind: 'coverage', subject_id: 100, state: 'running', again: false, run: 1, phase: null, done: null, total: null, outcome: null, message: null, requested_at: at, started_at: at, finished_at: null, updated_at: at, ...over }
}

t.test('waiting, starting, listing the installation, looking up what it misses', async (t) => {
  t.equal(coverageText(work({ state: 'queued' }), 'acme'), 'The coverage check on acme is waiting for its turn')
  t.equal(coverageText(work({}), 'acme'), 'Checking coverage on acme')
  t.equal(coverageText(work({ phase: 'listing', done: 2, total: 5 }), 'acme'), 'Checking coverage on acme: listing the installation, page 2 of 5')
  t.equal(coverageText(work({ phase: 'lookups', done: 3, total: 12 }), 'acme'), 'Checking coverage on acme: looking up what the installation does not list, 3 of 12 repositories')
  t.equal(coverageText(work({ phase: 'lookups', done: 0, total: 1 }), 'acme'), 'Checking coverage on acme: looking up what the installation does not list, 0 of 1 repository')
})

t.test('under way it is progress; failed it is what to do; done or never asked, the result speaks', async (t) => {
  t.same(coverageState(work({ state: 'queued' }), 'acme'), { checking: 'The coverage check on acme is waiting for its turn' })
  t.same(coverageState(work({ state: 'failed', message: 'Check again in a moment.' }), 'acme'), { checkFailed: 'Check again in a moment.' })
  t.same(coverageState(work({ state: 'done', outcome: 'checked' }), 'acme'), {})
  t.same(coverageState(undefined, 'acme'), {})
})
