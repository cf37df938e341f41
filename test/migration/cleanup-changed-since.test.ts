import { randomUUID } from 'node:crypto'
import t from 'tap'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { signature, webhookPayload } from '../../src/simulator/delivery.js'
import { installWithEvents } from '../../src/simulator/install-events.js'
import { csrfOf, formAction, settled, view } from '../helpers/wizard.js'
import { mona, installedWorld, monaCovered, agreeForMona, runOnce, tasks, outcomes, hooksOn, hookRequests } from '../helpers/cleanup-world.js'

// Removing the legacy hooks, continued from cleanup-edge-cases.test.ts: installations and
// repositories that changed after the agreement (suspended, gone, covering less, installed
// later, uninstalled, transferred, behind single sign-on); nothing uncovered is ever deleted.

t.test('an installation suspended, or gone from the record: every hook kept', async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  const { db } = service.tdb
  await db.updateTable('app.installation').set({ suspended_at: new Date() }).where('id', '=', 500).execute()
  await runOnce(service, 1)
  t.match((await tasks(service)).find((r) => r.hook_id === 5000)!.reason, "the App's installation on mona is suspended")
  await db.updateTable('app.installation').set({ deleted_at: new Date() }).where('id', '=', 501).execute()
  await runOnce(service, 100)
  t.match((await tasks(service)).find((r) => r.hook_id === 6000), { state: 'not_covered', reason: /the App is no longer installed on acme/ })
  t.equal(hookRequests(service).length, 0)
})

t.test('an organization hook whose installation no longer covers every repository is kept', async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  const acme = service.sim.state.installations.get(501)!
  acme.repositorySelection = 'selected'
  acme.repositoryIds = new Set([1100, 1101, 1102])
  await runOnce(service, 100)
  t.match(await outcomes(service), { 5100: 'removed', 6000: 'not_covered' })
  t.match((await tasks(service)).find((r) => r.hook_id === 6000)!.reason, 'no longer covers all of its repositories')
  t.same(hooksOn(service, 100), [6000])
})

t.test('agreed "automatically": an installation made days later, with nobody on the page, removes the hooks it covers', async (t) => {
  const world = installedWorld()
  world.installations = world.installations!.filter((i) => i.account === 'mona')
  const { service, cookie } = await monaCovered(t, world)
  const page = await view(service.app, cookie)
  await service.app.inject({ method: 'POST', url: formAction(page.body, 'Remove 3 old webhooks'), cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrfOf(page.body), auto: 'on' } })
  await settled(service)
  t.same(hooksOn(service, 100), [6000], 'acme not installed: its hooks stay')
  // Later, on GitHub: acme's owner installs the App on all of acme; the webhook does the rest.
  installWithEvents(service.sim.state, 100, 'all', [], service.sim.state.userByLogin('mona')!)
  await settled(service)
  t.match(await outcomes(service), { 5100: 'removed', 5101: 'removed', 5102: 'removed', 6000: 'removed' })
  const planned = await service.tdb.db.selectFrom('app.audit_event').select(['actor_kind', 'actor_login']).where('action', '=', 'hook_removal_planned').where('owner_id', '=', 100).execute()
  t.equal(planned.length, 4)
  t.ok(planned.every((e) => e.actor_kind !== 'user' || e.actor_login !== 'mona'), 'planned by the coverage check the webhook asked for, not by a click')
})

t.test('an uninstall webhook, genuine or replayed under a new id, never deletes a hook', async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  const { state } = service.sim
  const mona = state.userByLogin('mona')!
  const uninstall = JSON.stringify(webhookPayload(state, { name: 'installation', action: 'deleted', installation: state.installations.get(500)!, sender: mona }, service.sim.url))
  const replay = () =>
    service.app.inject({
      method: 'POST',
      url: '/github/webhooks',
      headers: { 'content-type': 'application/json', 'x-github-event': 'installation', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signature('sha256', state.app.webhook_secret, uninstall) },
      payload: uninstall,
    })
  t.equal((await replay()).statusCode, 202)
  await settled(service)
  t.same(Object.values(await outcomes(service)).slice(0, 3), ['pending', 'pending', 'pending'], 'GitHub still has the installation: the word of a webhook changes nothing')
  // Genuinely uninstalled now, and the webhook replayed again: the hooks are kept, none deleted.
  // (That body, taken once already, is refused at the door under its new id.)
  await service.sim.sim.app.inject({ method: 'DELETE', url: '/_sim/installations/500' })
  await settled(service)
  t.equal((await replay()).statusCode, 409)
  await settled(service)
  await runOnce(service, 1)
  t.same(Object.values(await outcomes(service)).slice(0, 3), ['not_covered', 'not_covered', 'not_covered'])
  t.equal(hookRequests(service).filter((e) => e.method === 'DELETE').length, 0)
  t.same(hooksOn(service, 1000), [5000])
})

t.test('a repository transferred after the agreement: its hook is kept', async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  await service.sim.sim.app.inject({ method: 'POST', url: '/_sim/repos/1001/transfer', payload: { owner: 'widgets' } })
  await runOnce(service, 1)
  t.match(await outcomes(service), { 5000: 'removed', 5001: 'not_covered', 5003: 'removed' })
  t.match((await tasks(service)).find((r) => r.hook_id === 5001)!.reason, 'transferred')
  t.same(hooksOn(service, 1001), [5001, 5002])
})

t.test("single sign-on keeps the old token out: the App's permission removes the repository hooks; the organization hook needs a person", async (t) => {
  const world = installedWorld()
  world.orgs!.find((o) => o.login === 'acme')!.saml_sso = true
  const { service } = await monaCovered(t, world)
  await agreeForMona(service)
  const before = service.sim.state.apiLog.length
  await runOnce(service, 100)
  t.match(await outcomes(service), { 5100: 'removed', 5102: 'removed', 6000: 'needs_manual' })
  const rows = await tasks(service)
  t.equal(rows.find((r) => r.hook_id === 5100)!.credential, 'installation')
  t.match(rows.find((r) => r.hook_id === 6000)!.reason, /single sign-on[\s\S]*delete hook 6000 on the organization acme by hand/)
  t.notMatch(rows.find((r) => r.hook_id === 6000)!.reason, /at the link|look again/, 'no link to approve, nothing looked at again: a person deletes it')
  const refusedToLegacy = service.sim.state.apiLog.slice(before).filter((e) => e.tokenKind === 'legacy' && e.actor === 'mona' && e.status === 403)
  t.equal(refusedToLegacy.length, 1, "refused once for SSO, then mona's token was not tried again on acme")
})
