import t, { type Test } from 'tap'
import { agreeForMona, hooksOn, monaCovered, outcomes, runOnce, tasks } from '../helpers/cleanup-world.js'
import type { Service } from '../helpers/service.js'

// Removing the legacy hooks, continued from cleanup-edge-cases.test.ts: what changes while a run
// is under way. A repository that leaves the installation after the run's listing (transferred,
// deleted) is not taken for a hook already gone; a removal whose answer was lost and that no
// credential can look at any more is not told flatly to a person as a hook to delete.

/**
 * Right after the next listing of mona's installation (which still shows mona/site), the
 * repository goes to widgets, where mona is a member without admin.
 */
function transferSiteAfterListing(service: Service, to = 101): void {
  const { state } = service.sim
  const record = state.recordApi.bind(state)
  state.recordApi = (entry) => {
    record(entry)
    if (entry.path === '/installation/repositories' && state.repos.get(1001)!.ownerId === 1) state.transferRepo(state.repos.get(1001)!, to)
  }
}

/** GitHub's simulated faults, as a test sets them. */
function faults(service: Service, errors: unknown[]) {
  return service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors } })
}

/** GitHub carries out the DELETE of `hook` but every answer to it is lost: the run leaves the task attempted, for later. */
async function removalLost(t: Test, service: Service, ownerId: number, hook: { id: number; path: string }): Promise<void> {
  await faults(service, [{ pattern: `DELETE ${hook.path}`, status: 502, rate: 1, lost: true }])
  t.same(await runOnce(service, ownerId), [60])
  t.match((await tasks(service)).find((r) => r.hook_id === hook.id), { state: 'attempting', attempts: 1 })
  await faults(service, [])
}

t.test("the installation's 404 unconfirmed for want of an answer decides nothing either", async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  await service.sim.sim.app.inject({ method: 'POST', url: '/_sim/users/mona/revoke-legacy-token' })
  service.sim.state.repos.get(1000)!.hooks.delete(5000)
  // Whether the installation still reaches mona/dotfiles, GitHub does not say.
  await faults(service, [{ pattern: 'GET /repositories/{repository_id}', status: 503, rate: 1, actor: 'installation 500' }])
  t.same(await runOnce(service, 1), [60])
  t.match(await outcomes(service), { 5000: 'pending', 5001: 'removed', 5003: 'removed' })
  await faults(service, [])
  t.same(await runOnce(service, 1), [])
  t.match(await outcomes(service), { 5000: 'already_absent' })
})

t.test('a removal sent whose answer was lost, then no credential can look: a person is told it may be gone already', async (t) => {
  const { service } = await monaCovered(t)
  const { state } = service.sim
  await agreeForMona(service)
  await removalLost(t, service, 100, { id: 6000, path: '/orgs/acme/hooks/6000' })
  t.same(hooksOn(service, 100), [], 'GitHub did delete it')
  // Then acme turns on SAML single sign-on: mona's token, the only one that could look, is refused.
  state.orgs.get(100)!.samlSso = true
  await runOnce(service, 100)
  const row = (await tasks(service)).find((r) => r.hook_id === 6000)!
  t.match(row, { state: 'needs_manual', attempts: 1 })
  t.match(row.reason, /single sign-on/)
  t.match(row.reason, `A removal was sent without GitHub confirming it: if hook 6000 on the organization acme is still there, at ${service.sim.url}/organizations/acme/settings/hooks/6000, delete it by hand.`)
  t.notMatch(row.reason, /: delete hook 6000/, 'not told to delete, flatly, a hook that may be gone')
})

t.test("a repository transferred while the run is under way: the installation's 404 is not taken for the hook's absence", async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  transferSiteAfterListing(service)
  await runOnce(service, 1)
  const row = (await tasks(service)).find((r) => r.hook_id === 5001)!
  t.same(hooksOn(service, 1001), [5001, 5002], 'GitHub still has it')
  t.not(row.state, 'already_absent', 'so it is not recorded as gone')
  t.match(row, { state: 'not_covered', reason: /no longer among the repositories the App's installation on mona covers/ })
  t.match(await outcomes(service), { 5000: 'removed', 5003: 'removed' })
})

t.test("a repository transferred during the run to an organization mona owns: her token still reads its hook there, and leaves it", async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  transferSiteAfterListing(service, 100)
  await runOnce(service, 1)
  t.same(hooksOn(service, 1001), [5001, 5002], 'GitHub still has it, on acme/site')
  t.match((await tasks(service)).find((r) => r.hook_id === 5001), {
    state: 'not_covered',
    credential: 'legacy',
    reason: "Kept: mona/site is now acme/site, no longer on mona, where the App's installation covered it; it was left in place.",
  })
  t.match(await outcomes(service), { 5000: 'removed', 5003: 'removed' })
})

t.test('an account renamed since its tasks were planned is not taken for a move: its hooks go', async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  // The tasks say the name the account had when they were planned; the installation, its name now.
  await service.tdb.db.updateTable('app.cleanup_task').set({ owner_login: 'mona-before' }).where('owner_id', '=', 1).execute()
  await runOnce(service, 1)
  t.match(await outcomes(service), { 5000: 'removed', 5001: 'removed', 5003: 'removed' })
  t.same(hooksOn(service, 1001), [5002], "only the other app's hook is left on mona/site")
})

t.test('a removal whose answer was lost, then the repository transferred: kept as not covered, saying it may be gone already', async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  await removalLost(t, service, 1, { id: 5001, path: '/repositories/1001/hooks/5001' })
  transferSiteAfterListing(service)
  await runOnce(service, 1)
  t.same(hooksOn(service, 1001), [5002], 'the lost DELETE did remove it')
  t.match((await tasks(service)).find((r) => r.hook_id === 5001), {
    state: 'not_covered',
    reason: /no longer among the repositories[\s\S]* A removal was sent earlier without GitHub confirming it: it may be gone already\.$/,
  })
})
