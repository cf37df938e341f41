import t from 'tap'
import { crashRuns } from '../helpers/cleanup-crash.js'

// A cleanup worker killed at random moments, ten runs (part 1 of 2: twenty runs in all, in two
// files that run side by side); the invariants are in test/helpers/cleanup-crash.ts.

t.test('a worker killed at a random moment, ten times: every invariant holds', (t) => crashRuns(t, 10, 1))
