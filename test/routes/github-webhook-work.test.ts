import { randomUUID } from 'node:crypto'
import t from 'tap'
import { installWithEvents } from '../../src/simulator/install-events.js'
import { withScopes } from '../helpers/scoped-world.js'
import { serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { followSetup, installOnGitHub, settled, view } from '../helpers/wizard.js'
import { MONA, ownerSection, pressFor, post, bodyOf, deliveredBodyOf, auditOf, batchOf, monaCovered } from '../helpers/webhook-world.js'

// What the App's webhooks do to the batches of the installation's account, as the user sees it
// on /migrate (the route itself is in github-webhooks.test.ts): uninstalls, suspensions,
// repositories taken off and added back, approved requests, and bodies GitHub's answers do not
// bear out. GitHub's side is the simulator, whose deliveries arrive signed over HTTP.

t.test('uninstalled on GitHub: the batches of that account go back to planned, and the page says why', async (t) => {
  const { service, cookie, installationId } = await monaCovered(t)
  const res = await service.sim.sim.app.inject({ method: 'DELETE', url: `/_sim/installations/${installationId}` })
  t.equal(res.statusCode, 200)
  await settled(service)

  t.match(await batchOf(service, 'mona'), { state: 'planned', installation_id: null, state_reason: 'The App is not installed on mona.' })
  t.match(await service.tdb.db.selectFrom('app.installation').selectAll().where('id', '=', installationId).executeTakeFirstOrThrow(), { deleted_at: Date })
  const mona = await ownerSection(service, cookie, 'mona')
  t.notMatch(mona, 'Covered')
  t.match(mona, 'The App is not installed on mona.')
  t.match(mona, 'Install on mona', 'installing is the next step again')
  t.match(await auditOf(service, 'installation_deleted'), [
    { actor_kind: 'github', actor_github_id: MONA, actor_login: 'mona', owner_login: 'mona', installation_id: installationId, outcome: 'ok', reason: 'mona uninstalled the App', detail: { batches: 1 } },
  ])
  t.match((await auditOf(service, 'coverage_checked')).at(-1), { actor_kind: 'github', actor_login: 'mona', outcome: 'not_covered', reason: 'The App is not installed on mona.' })
})

t.test('suspended on GitHub: coverage shows the problem; unsuspended: covered again', async (t) => {
  const { service, cookie, installationId } = await monaCovered(t)
  const { sim } = service
  t.equal((await sim.sim.app.inject({ method: 'POST', url: `/_sim/installations/${installationId}/suspend` })).statusCode, 200)
  await settled(service)
  let mona = await ownerSection(service, cookie, 'mona')
  t.notMatch(mona, 'Covered')
  t.match(mona, "The App&#39;s installation on mona is suspended: GitHub sends it no events until it is unsuspended.")
  t.match(await batchOf(service, 'mona'), { state: 'blocked', installation_id: installationId, state_reason: /suspended/ })
  t.match(await auditOf(service, 'installation_suspend'), [{ actor_kind: 'github', actor_login: 'mona', installation_id: installationId }])

  t.equal((await sim.sim.app.inject({ method: 'POST', url: `/_sim/installations/${installationId}/unsuspend` })).statusCode, 200)
  await settled(service)
  mona = await ownerSection(service, cookie, 'mona')
  t.match(mona, /Covered[\s\S]*3 covered/)
  t.notMatch(mona, 'suspended')
  t.match(await batchOf(service, 'mona'), { state: 'installed', state_reason: null })
  t.match(await auditOf(service, 'installation_unsuspend'), [{ actor_kind: 'github', actor_login: 'mona' }])
})

t.test('repositories taken off the installation on GitHub are no longer covered; added back, they are', async (t) => {
  const { service, cookie } = await monaCovered(t)
  const { sim } = service
  const mona = sim.state.userByLogin('mona')!
  // On the installation's settings page on GitHub, mona unticks new-name (1002).
  installWithEvents(sim.state, MONA, 'selected', [1000, 1001], mona)
  await settled(service)
  let page = await ownerSection(service, cookie, 'mona')
  t.notMatch(page, 'Covered')
  t.match(page, 'does not cover 1 of these repositories yet')
  t.match(page, 'Add the 1 missing repository')
  t.match(page, /mona\/new-name[\s\S]*?not covered/)
  t.match(page, '2 covered, 1 not covered')
  t.match(await auditOf(service, 'installation_repositories_removed'), [{ actor_kind: 'github', actor_login: 'mona', owner_login: 'mona', outcome: 'ok' }])

  installWithEvents(sim.state, MONA, 'selected', [1000, 1001, 1002], mona)
  await settled(service)
  page = await ownerSection(service, cookie, 'mona')
  t.match(page, /Covered[\s\S]*3 covered/)
  t.match(await auditOf(service, 'installation_repositories_added'), [{ actor_kind: 'github', actor_login: 'mona', owner_login: 'mona', outcome: 'ok' }])
})

t.test("an org owner approves mona's request on GitHub: her waiting batch is installed and covered, the approver on record", async (t) => {
  const service = await serviceWithGitHub(t)
  const { app, sim } = service
  const cookie = await signIn(app, sim, MONA)
  // Her legacy token cannot read her role in widgets: the wizard sends her to GitHub's install
  // page, which makes a member's click a request.
  const link = await pressFor(service, cookie, 'widgets', 'Install or ask the owners of widgets on GitHub')
  const setupPath = installOnGitHub(sim, link, 'mona')
  t.match(setupPath, 'setup_action=request', 'GitHub made it a request')
  t.equal((await followSetup(app, sim, cookie, setupPath, MONA)).statusCode, 303)
  const waiting = await ownerSection(service, cookie, 'widgets')
  t.match(waiting, 'Waiting for approval')
  t.match(waiting, /Any <a href="[^"]+\/orgs\/widgets\/people\?query=role%3Aowner">owner of widgets<\/a> can approve it on GitHub/, 'its owners, where the token cannot name them')
  t.match(await batchOf(service, 'widgets'), { state: 'request_pending', installation_id: null })

  const [request] = [...sim.state.requests.values()]
  const approved = await sim.sim.app.inject({ method: 'POST', url: `/_sim/requests/${request!.id}/approve`, payload: { approver: 'octo' } })
  t.equal(approved.statusCode, 200)
  const installationId = (approved.json() as { installation: { id: number } }).installation.id
  await settled(service)

  t.match(await batchOf(service, 'widgets'), { state: 'installed', installation_id: installationId, state_reason: null })
  const widgets = await ownerSection(service, cookie, 'widgets')
  t.match(widgets, /Covered[\s\S]*1 covered/)
  t.notMatch(widgets, 'Waiting for approval')
  t.match(await auditOf(service, 'installation_created'), [
    { actor_kind: 'github', actor_github_id: 3, actor_login: 'octo', owner_id: 101, owner_login: 'widgets', installation_id: installationId, outcome: 'ok', reason: "octo approved mona's request", detail: { batchesAttached: 1 } },
  ])
  t.match((await auditOf(service, 'coverage_checked')).at(-1), { actor_kind: 'github', actor_login: 'octo', owner_login: 'widgets', outcome: 'covered', detail: { forUser: MONA } })
})

t.test('a member asks for more on an org where the App is installed: the approval adds the repository, the approver on record', async (t) => {
  // Asking for more is a member's step: mona's token holds read:org, so GitHub tells her role.
  const service = await serviceWithGitHub(t, withScopes({ mona: ['read:org'] }))
  const { app, sim } = service
  const cookie = await signIn(app, sim, MONA)
  await view(app, cookie)
  // octo installs the App on widgets with none of its repositories.
  const octo = sim.state.userByLogin('octo')!
  const { installation } = installWithEvents(sim.state, 101, 'selected', [], octo)
  await settled(service)
  const before = await ownerSection(service, cookie, 'widgets')
  t.match(before, 'Ask the owners of widgets to add the rest')
  t.match(await auditOf(service, 'installation_created'), [{ actor_login: 'octo', reason: null, detail: { batchesAttached: 1 } }], 'an owner installing is no approval')

  const link = await pressFor(service, cookie, 'widgets', 'Ask the owners of widgets')
  t.equal((await followSetup(app, sim, cookie, installOnGitHub(sim, link, 'mona'), MONA)).statusCode, 303)
  const [request] = [...sim.state.requests.values()]
  t.equal((await sim.sim.app.inject({ method: 'POST', url: `/_sim/requests/${request!.id}/approve`, payload: { approver: 'octo' } })).statusCode, 200)
  await settled(service)

  t.match(await ownerSection(service, cookie, 'widgets'), /Covered[\s\S]*1 covered/)
  t.match(await auditOf(service, 'installation_repositories_added'), [
    { actor_kind: 'github', actor_login: 'octo', owner_login: 'widgets', installation_id: installation.id, reason: "octo approved mona's request" },
  ])
})

t.test('uninstalled from an org: the batch of every user migrating to it goes back to planned', async (t) => {
  const service = await serviceWithGitHub(t)
  const { app, sim, tdb } = service
  const mona = await signIn(app, sim, MONA)
  const octo = await signIn(app, sim, 3)
  await view(app, mona)
  await view(app, octo)
  // mona, an owner of acme, installs there; octo, a member, never pressed anything.
  const link = await pressFor(service, mona, 'acme', 'Install or ask the owners of acme on GitHub')
  await followSetup(app, sim, mona, installOnGitHub(sim, link, 'mona'), MONA)
  await settled(service)
  const acme = () => tdb.db.selectFrom('app.batch').select(['user_id', 'state', 'installation_id', 'state_reason']).where('owner_login', '=', 'acme').orderBy('user_id').execute()
  const [installation] = [...sim.state.installations.values()]
  t.match(await acme(), [
    { user_id: MONA, state: 'installed', installation_id: installation!.id, state_reason: null },
    { user_id: 3, state: 'installed', installation_id: installation!.id, state_reason: null },
  ])
  t.match(await ownerSection(service, octo, 'acme'), 'Covered', "octo's batch is covered by mona's install")

  t.equal((await sim.sim.app.inject({ method: 'DELETE', url: `/_sim/installations/${installation!.id}`, payload: { sender: 'mona' } })).statusCode, 200)
  await settled(service)
  t.same(await acme(), [
    { user_id: MONA, state: 'planned', installation_id: null, state_reason: 'The App is not installed on acme.' },
    { user_id: 3, state: 'planned', installation_id: null, state_reason: 'The App is not installed on acme.' },
  ])
  for (const cookie of [mona, octo]) t.match(await ownerSection(service, cookie, 'acme'), 'The App is not installed on acme.')
  t.match(await auditOf(service, 'installation_deleted'), [{ actor_login: 'mona', owner_login: 'acme', detail: { batches: 2 } }])
})

t.test('an installation GitHub does not have (here on an account named without a login, as an enterprise is) is not recorded', async (t) => {
  const service = await serviceWithGitHub(t)
  const deliveryId = randomUUID()
  const body = JSON.stringify({
    action: 'created',
    installation: { id: 77001, account: { id: 5001, slug: 'bigcorp', name: 'BigCorp' }, repository_selection: 'all' },
    requester: null,
    sender: { id: 3, login: 'octo' },
  })
  const res = await post(service.app, { event: 'installation', deliveryId, body })
  t.equal(res.statusCode, 202)
  await settled(service)
  t.match(await auditOf(service, 'webhook_received'), [{ owner_id: 5001, owner_login: '5001', installation_id: 77001 }], 'received under its id')
  t.same(await service.tdb.db.selectFrom('app.installation').selectAll().execute(), [], 'GitHub answers 404 for it: nothing recorded')
  t.match(await auditOf(service, 'webhook_unconfirmed'), [{ actor_login: 'octo', installation_id: 77001, outcome: 'ignored', reason: 'GitHub has no installation 77001.', detail: { deliveryId, event: 'installation', action: 'created', batchesReset: 0 } }])
  t.same(await auditOf(service, 'installation_created'), [])
  t.same(await auditOf(service, 'coverage_checked'), [], 'nobody migrates to it: nothing to check')
})

t.test('a captured body sent again under a new X-GitHub-Delivery is refused; one GitHub never sent does not undo a migration; a genuine uninstall still does', async (t) => {
  const { service, cookie, installationId } = await monaCovered(t)
  const { app, sim, tdb } = service
  const mona = sim.state.userByLogin('mona')!
  const installation = sim.state.installations.get(installationId)!
  // Everything GitHub sends from here on, byte for byte, as someone on the path could keep it.
  const captured: { event: string; action: string; body: string }[] = []
  const deliver = sim.state.onEvent
  sim.state.onEvent = (event) => {
    captured.push({ event: event.name, action: event.action, body: deliveredBodyOf(service, event) })
    deliver(event)
  }
  // Genuine changes, each undone: suspended and unsuspended; new-name (1002) unticked and ticked again.
  // (Each settled before the next: a `suspend` that arrives after the unsuspend is not believed either.)
  for (const action of ['suspend', 'unsuspend']) {
    t.equal((await sim.sim.app.inject({ method: 'POST', url: `/_sim/installations/${installationId}/${action}` })).statusCode, 200)
    await settled(service)
  }
  installWithEvents(sim.state, MONA, 'selected', [1000, 1001], mona)
  installWithEvents(sim.state, MONA, 'selected', [1000, 1001, 1002], mona)
  await settled(service)
  t.match(await ownerSection(service, cookie, 'mona'), /Covered[\s\S]*3 covered/)
  const suspend = captured.find((c) => c.action === 'suspend')!
  const removed = captured.find((c) => c.event === 'installation_repositories' && c.action === 'removed')!
  // And the body GitHub would send if mona uninstalled, for this very installation.
  const deleted = { event: 'installation', action: 'deleted', body: bodyOf(service, { name: 'installation', action: 'deleted', installation, sender: mona }) }

  // Bodies GitHub delivered, sent again under new ids, are refused at the door.
  for (const replay of [suspend, removed]) {
    const res = await post(app, { event: replay.event, deliveryId: randomUUID(), body: replay.body })
    t.equal(res.statusCode, 409, `${replay.event} ${replay.action} sent again: 409`)
    t.match(res.json(), { error: /delivered before under another X-GitHub-Delivery/ })
  }
  // Bodies GitHub never sent (only the secret's holder could sign them) are believed only as far as GitHub bears them out.
  const suspendAgain = { event: 'installation', action: 'suspend', body: bodyOf(service, { name: 'installation', action: 'suspend', installation, sender: mona }) }
  const unsent = [suspendAgain, deleted].map((c) => ({ ...c, deliveryId: randomUUID() }))
  for (const u of unsent) t.equal((await post(app, { event: u.event, deliveryId: u.deliveryId, body: u.body })).statusCode, 202, `${u.event} ${u.action} taken as new`)
  await settled(service)
  t.match(await ownerSection(service, cookie, 'mona'), /Covered[\s\S]*3 covered/, 'still Covered')
  t.match(await batchOf(service, 'mona'), { state: 'installed', installation_id: installationId, state_reason: null })
  t.match(await tdb.db.selectFrom('app.installation').selectAll().where('id', '=', installationId).executeTakeFirstOrThrow(), { deleted_at: null, suspended_at: null, repository_selection: 'selected' })
  // The jobs run in any order.
  const doubted = (await auditOf(service, 'webhook_unconfirmed')).sort((a, b) => String(a.reason).localeCompare(String(b.reason)))
  t.match(doubted, [
    { installation_id: installationId, outcome: 'ignored', reason: `GitHub has installation ${installationId} and it is not suspended.`, detail: { deliveryId: unsent[0]!.deliveryId, action: 'suspend' } },
    { installation_id: installationId, outcome: 'ignored', reason: `GitHub still has installation ${installationId}.`, detail: { deliveryId: unsent[1]!.deliveryId, action: 'deleted' } },
  ])
  t.equal(doubted.length, 2, 'nothing else doubted')
  t.same(await auditOf(service, 'installation_deleted'), [], 'no uninstall on record')

  t.equal((await sim.sim.app.inject({ method: 'DELETE', url: `/_sim/installations/${installationId}` })).statusCode, 200)
  await settled(service)
  t.match(await batchOf(service, 'mona'), { state: 'planned', installation_id: null, state_reason: 'The App is not installed on mona.' })
  t.match(await tdb.db.selectFrom('app.installation').selectAll().where('id', '=', installationId).executeTakeFirstOrThrow(), { deleted_at: Date })
  t.match(await auditOf(service, 'installation_deleted'), [{ reason: 'mona uninstalled the App', detail: { batches: 1 } }])
})

t.test("an installation GitHub has on another account than the payload names is never given to that account's batches", async (t) => {
  const { service, cookie, installationId } = await monaCovered(t)
  const { app, sim } = service
  t.match(await batchOf(service, 'widgets'), { state: 'planned', installation_id: null })
  const widgets = sim.state.accountByLogin('widgets')!
  const real = JSON.parse(bodyOf(service, { name: 'installation', action: 'created', installation: sim.state.installations.get(installationId)!, sender: sim.state.userByLogin('mona')! }))
  const body = JSON.stringify({ ...real, installation: { ...real.installation, account: { id: widgets.id, login: widgets.login, type: 'Organization' } } })
  const deliveryId = randomUUID()
  t.equal((await post(app, { event: 'installation', deliveryId, body })).statusCode, 202)
  await settled(service)
  t.match(await batchOf(service, 'widgets'), { state: 'planned', installation_id: null }, 'widgets still waits for an install')
  t.match(await ownerSection(service, cookie, 'widgets'), 'Install or ask the owners of widgets on GitHub', 'still the step to GitHub')
  t.match(await service.tdb.db.selectFrom('app.installation').selectAll().execute(), [{ id: installationId, account_id: MONA, account_login: 'mona' }])
  t.match(await auditOf(service, 'webhook_unconfirmed'), [
    { owner_id: widgets.id, installation_id: installationId, outcome: 'ignored', reason: `GitHub has installation ${installationId} on account ${MONA}, not on account ${widgets.id} as the webhook says.`, detail: { deliveryId } },
  ])
  t.match(await ownerSection(service, cookie, 'mona'), /Covered[\s\S]*3 covered/, "mona's batch is untouched")
})
