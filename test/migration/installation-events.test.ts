import t from 'tap'
import { applyInstallationEvent, type InstallationEventJob } from '../../src/migration/installation-events.js'
import { githubClientsOf, serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld } from '../helpers/simulator.js'
import { view } from '../helpers/wizard.js'

// A queued webhook job that runs again (pg-boss retries it when a later step fails) applies and
// audits its change once; only the coverage check is repeated.


t.test('a job run twice applies its delivery once', async (t) => {
  const world = demoWorld()
  world.installations = [{ id: 500, account: 'mona', repository_selection: 'all' }]
  const service = await serviceWithGitHub(t, world)
  const { db } = service.tdb
  await view(service.app, await signIn(service.app, service.sim, 1))
  await db.insertInto('app.webhook_delivery').values({ delivery_id: 'd-1', event: 'installation', action: 'suspend', installation_id: 500, applied_at: null }).execute()
  const job: InstallationEventJob = {
    deliveryId: 'd-1',
    event: 'installation',
    action: 'suspend',
    installation: { id: 500, accountId: 1, accountLogin: 'mona', repositorySelection: 'all', suspendedAt: '2026-11-21T09:00:00Z' },
    sender: { id: 1, login: 'mona' },
    requester: null,
  }
  const github = githubClientsOf(service, { retries: 0 })
  await applyInstallationEvent(db, github, job)
  // Unsuspended on our side meanwhile: a second run must not suspend it again.
  await db.updateTable('app.installation').set({ suspended_at: null }).where('id', '=', 500).execute()
  await applyInstallationEvent(db, github, job)
  const events = await db.selectFrom('app.audit_event').select('action').where('action', 'in', ['installation_suspend', 'coverage_checked']).orderBy('id').execute()
  t.same(
    events.map((e) => e.action),
    ['coverage_checked', 'installation_suspend', 'coverage_checked', 'coverage_checked'],
    'planning checked once; the job audited its change once and checked twice',
  )
  const installation = await db.selectFrom('app.installation').select('suspended_at').where('id', '=', 500).executeTakeFirstOrThrow()
  t.equal(installation.suspended_at, null, 'the second run left the installation alone')
  const delivery = await db.selectFrom('app.webhook_delivery').select('applied_at').where('delivery_id', '=', 'd-1').executeTakeFirstOrThrow()
  t.ok(delivery.applied_at instanceof Date)
})
