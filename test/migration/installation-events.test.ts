import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { requestCoverage, type SendCoverage } from '../../src/migration/coverage-job.js'
import { applyInstallationEvent, type InstallationEventJob } from '../../src/migration/installation-events.js'
import { recordInstallation } from '../../src/migration/installations.js'
import { githubClientsOf, serviceWithGitHub, type Service } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld } from '../helpers/simulator.js'
import { auditActions, settled, view } from '../helpers/wizard.js'

// The job behind an `installation` webhook, run directly: it applies and audits a delivery once
// (pg-boss retries it when a later step fails), and asks GitHub, as the App, what the
// installation is before it believes the payload; GitHub failing to say is retried only when a
// later answer could differ.

/** mona's account with installation 500 on it, her batch planned and covered, and one queued delivery `d-1`. */
async function monaInstalled(t: Test, action: string): Promise<{ service: Service; job: InstallationEventJob }> {
  const world = demoWorld()
  world.installations = [{ id: 500, account: 'mona', repository_selection: 'all' }]
  const service = await serviceWithGitHub(t, world)
  await view(service.app, await signIn(service.app, service.sim, 1))
  await service.tdb.db.insertInto('app.webhook_delivery').values({ delivery_id: 'd-1', event: 'installation', action, installation_id: 500, applied_at: null }).execute()
  const job: InstallationEventJob = {
    deliveryId: 'd-1',
    event: 'installation',
    action,
    installation: { id: 500, accountId: 1, accountLogin: 'mona' },
    sender: { id: 1, login: 'mona' },
    requester: null,
  }
  return { service, job }
}

/** The coverage check the job asks for, on the service's queue. */
function coverage(service: Service): SendCoverage {
  return (trx, job, options) => service.app.queue.send(trx, 'coverage', job, options)
}

async function faultOn(service: Service, status: number): Promise<void> {
  const errors = status === 0 ? [] : [{ method: 'GET', pattern: '/app/installations/{installation_id}', status, rate: 1 }]
  const res = await service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors } })
  if (res.statusCode !== 200) throw new Error(res.body)
}

t.test('a job run twice applies its delivery once', async (t) => {
  const { service, job } = await monaInstalled(t, 'suspend')
  const { db } = service.tdb
  // GitHub has it suspended, as the webhook says.
  service.sim.state.installations.get(500)!.suspendedAt = new Date('2026-11-21T09:00:00Z')
  const github = githubClientsOf(service, { retries: 0 })
  await applyInstallationEvent(db, github, job, coverage(service), () => service.app.queue.wake())
  await applyInstallationEvent(db, github, job, coverage(service), () => service.app.queue.wake())
  await settled(service)
  const events = await db.selectFrom('app.audit_event').select('action').where('action', 'in', ['installation_suspend', 'coverage_checked']).orderBy('id').execute()
  t.same(
    events.map((e) => e.action),
    ['coverage_checked', 'installation_suspend', 'coverage_checked'],
    'planning checked once; the job audited its change once and asked for one check',
  )
  const installation = await db.selectFrom('app.installation').select('suspended_at').where('id', '=', 500).executeTakeFirstOrThrow()
  t.same(installation.suspended_at, new Date('2026-11-21T09:00:00Z'), "suspended since GitHub's time, not the job's")
  const delivery = await db.selectFrom('app.webhook_delivery').select('applied_at').where('delivery_id', '=', 'd-1').executeTakeFirstOrThrow()
  t.ok(delivery.applied_at instanceof Date)
})

t.test('GitHub failing to say what the installation is: retried when it is an outage, recorded and dropped when the App is refused', async (t) => {
  const { service, job } = await monaInstalled(t, 'deleted')
  const { db } = service.tdb
  const github = githubClientsOf(service, { retries: 0 })
  const batch = () => db.selectFrom('app.batch').select(['state', 'installation_id']).where('owner_login', '=', 'mona').executeTakeFirstOrThrow()
  const applied = async () => (await db.selectFrom('app.webhook_delivery').select('applied_at').where('delivery_id', '=', 'd-1').executeTakeFirstOrThrow()).applied_at
  t.match(await batch(), { state: 'installed', installation_id: 500 })

  await faultOn(service, 502)
  await t.rejects(applyInstallationEvent(db, github, job, coverage(service), () => service.app.queue.wake()), { status: 502, message: /./ }, 'a 502 fails the job, so pg-boss runs it again')
  t.equal(await applied(), null, 'the delivery is still to be applied')
  t.match(await batch(), { state: 'installed', installation_id: 500 }, 'nothing changed on a guess')

  await faultOn(service, 401)
  await applyInstallationEvent(db, github, job, coverage(service), () => service.app.queue.wake())
  t.ok((await applied()) instanceof Date, "a 401 for the App's JWT ends the job: no retry could succeed")
  t.match(await batch(), { state: 'installed', installation_id: 500 }, 'and changes nothing')
  const audit = await db.selectFrom('app.audit_event').selectAll().where('action', '=', 'webhook_unconfirmed').execute()
  t.match(audit, [{ outcome: 'failed', installation_id: 500, reason: /GitHub answered 401 .*nothing was changed/, detail: { deliveryId: 'd-1', event: 'installation', action: 'deleted', status: 401 } }])

  // Asked again later (the job cannot tell), the delivery stays done.
  await applyInstallationEvent(db, github, job, coverage(service), () => service.app.queue.wake())
  t.equal((await db.selectFrom('app.audit_event').select('id').where('action', '=', 'webhook_unconfirmed').execute()).length, 1, 'audited once')
  await faultOn(service, 0)
})

t.test("the job and a setup callback recording the same installation at once: the job waits its turn, neither deadlocks", async (t) => {
  const { service, job } = await monaInstalled(t, 'created')
  const { db } = service.tdb
  const github = githubClientsOf(service, { retries: 0 })
  const actor = { kind: 'user' as const, githubId: 1, login: 'mona' }
  const blocked = async (): Promise<boolean> => {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock'`.execute(db)
    return rows[0]!.n > 0
  }
  const applied = await db.transaction().execute(async (trx) => {
    // As the setup callback does: the installation, then the owner's batches, then the check.
    await recordInstallation(trx, { id: 500, accountId: 1, accountLogin: 'mona', repositorySelection: 'all', suspendedAt: null })
    await trx.updateTable('app.batch').set({ updated_at: new Date() }).where('owner_id', '=', 1).execute()
    const event = applyInstallationEvent(db, github, job, coverage(service), () => service.app.queue.wake()).then(
      () => 'applied',
      (error: { code?: string }) => `failed: ${error.code}`,
    )
    while (!(await blocked())) await new Promise((resolve) => setTimeout(resolve, 5))
    // Had the job asked for the check first, this would now wait for it while it waits for the
    // installation: a deadlock, one of the two rolled back (40P01).
    await requestCoverage(trx, coverage(service), { ownerId: 1, actor })
    // (Wrapped: a promise returned as is would hold the commit until the job ends.)
    return { event }
  })
  t.equal(await applied.event, 'applied')
  t.same((await auditActions(service)).filter((a) => a === 'installation_created'), ['installation_created'])
  await settled(service)
})
