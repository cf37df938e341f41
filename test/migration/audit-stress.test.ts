import type { Kysely } from 'kysely'
import t from 'tap'
import { connect } from '../../src/db/connect.js'
import type { Database } from '../../src/db/database.js'
import { appendAudit, sealPending, verifyAuditChain, type AuditEvent } from '../../src/migration/audit.js'
import type { Batch, Inventory } from '../../src/migration/batches.js'
import { checkCoverage } from '../../src/migration/coverage.js'
import { savePlan } from '../../src/migration/plan-store.js'
import { testDatabase } from '../helpers/database.js'
import { githubClientsOf } from '../helpers/service.js'
import { startSimulator } from '../helpers/simulator.js'

// Planning, coverage checks, add runs and webhooks at once, on batches they share. Planning a user locks
// that user's batches one owner after another, writing an event after each; a coverage check
// of an owner locks that owner's batches one user after another, the same way. Their row
// locks alone cannot close a cycle; a lock that every audited transaction takes and keeps
// until commit (the chain's, before sealing) closes one at once: a plan holding it waits for a
// batch a coverage check holds while that check waits for it. An add run's writes (addRepos:
// per repository its batch's lease, its row and an event, then the batch, its rows and an event) join in, as
// their job writes them between its calls to GitHub.

const USERS = [1, 2, 3, 4].map((id) => ({ id, login: `user-${id}` }))
const OWNERS = [100, 101, 102, 103].map((id) => ({ id, login: `org-${id}`, type: 'Organization' as const }))
const ROUNDS = 12

function plan(user: { id: number }, round: number): Inventory {
  const batches: Batch[] = OWNERS.map((owner) => ({
    owner,
    role: 'admin',
    action: 'install',
    repos: [{ id: owner.id * 100 + user.id, name: `repo-${user.id}`, private: false, moved: false, enabledBy: [`user-${user.id}`], hookIds: [round], unseen: null }],
    hiddenRepos: round,
    orgHooks: [],
  }))
  return { batches, gone: [], notes: [] }
}

async function addRun(db: Kysely<Database>, batchId: number, repoId: number, round: number): Promise<void> {
  const event: AuditEvent = { actor: { kind: 'user', githubId: 1, login: 'user-1' }, action: 'repo_added', target: { repoId }, outcome: 'ok', requestId: `add-${round}` }
  await db.transaction().execute(async (trx) => {
    // The piece renews its lease on the batch with each repository it records, then records it.
    await trx.updateTable('app.batch').set({ add_lease_until: new Date(Date.now() + 60_000) }).where('id', '=', batchId).execute()
    await trx.updateTable('app.batch_repo').set({ add_state: 'added' }).where('batch_id', '=', batchId).where('repo_id', '=', repoId).execute()
    await appendAudit(trx, event)
  })
  await db.transaction().execute(async (trx) => {
    await trx.updateTable('app.batch').set({ state_reason: null }).where('id', '=', batchId).execute()
    await trx.updateTable('app.batch_repo').set({ add_state: null }).where('batch_id', '=', batchId).execute()
    await appendAudit(trx, { ...event, action: 'repos_add_finished', target: {} })
  })
}

t.test('planning, coverage checks, add runs and webhooks at once: no deadlock, one intact chain', async (t) => {
  const tdb = await testDatabase(t)
  const sim = await startSimulator(t)
  const github = githubClientsOf({ sim })
  const pool = connect(tdb.url, { max: 16 })
  t.teardown(() => pool.close())
  // Batch ids follow the users' order in every owner, as a coverage check visits them.
  for (const user of USERS) await savePlan(tdb.db, user, plan(user, 0))
  const seeded = OWNERS.length * USERS.length
  const batches = await tdb.db.selectFrom('app.batch_repo').select(['batch_id', 'repo_id']).orderBy('batch_id').execute()

  const work: (() => Promise<void>)[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    for (const user of USERS) work.push(() => savePlan(pool.db, user, plan(user, round), `plan-${round}`))
    for (const owner of OWNERS) work.push(() => checkCoverage(pool.db, github, owner.id, { actor: { kind: 'system' }, requestId: `check-${round}`, cleanup: async () => {} }))
    for (const { batch_id, repo_id } of batches.filter((_, i) => i % 4 === round % 4)) work.push(() => addRun(pool.db, batch_id, repo_id, round))
    work.push(() => pool.db.transaction().execute(async (trx) => void (await appendAudit(trx, { actor: { kind: 'github' }, action: 'webhook_received', outcome: 'ok' }))))
  }
  const outcomes = await Promise.allSettled(work.map((run) => run()))
  const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [(o.reason as { code?: string; message?: string })] : []))
  t.same(failures.map((f) => `${f.code}: ${f.message}`), [], 'no transaction failed (a deadlock is 40P01)')

  // Each plan writes one event per owner, each check one per user, each add run two, each webhook one.
  const expected = seeded + ROUNDS * (USERS.length * OWNERS.length + OWNERS.length * USERS.length + (batches.length / 4) * 2 + 1)
  await sealPending(tdb.db, 10_000)
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: expected, pending: 0 })
})
