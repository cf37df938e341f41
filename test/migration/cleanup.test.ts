import t from 'tap'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { csrfOf, formAction, settled, view } from '../helpers/wizard.js'
import { installedWorld, monaCovered, agreeForMona, runOnce, tasks, outcomes, events, hooksOn, hookRequests } from '../helpers/cleanup-world.js'

// Removing the legacy hooks: each ends in exactly one outcome, on the record, with the
// credential that can; nothing foreign or uncovered is ever deleted. The runs and their
// outcomes; GitHub failing, refusing and racing them are in cleanup-edge-cases.test.ts (two
// files, so that each stays well within tap's per-file timeout when files run side by side).

t.test('agreed on the page: every covered hook is removed once, the foreign one kept, and the batches read Done', async (t) => {
  const { service, cookie } = await monaCovered(t)
  const { app } = service
  const before = await view(app, cookie)
  t.match(before.body, /Remove 3 old webhooks/, "mona's own three")
  t.match(before.body, /Remove 4 old webhooks/, "acme's three repositories and its organization hook")
  const res = await app.inject({
    method: 'POST',
    url: formAction(before.body, 'Remove 3 old webhooks'),
    cookies: { [SESSION_COOKIE]: cookie },
    payload: { _csrf: csrfOf(before.body), auto: 'on' },
  })
  t.equal(res.statusCode, 303)
  await settled(service)
  t.same(await outcomes(service), { 5000: 'removed', 5001: 'removed', 5003: 'removed', 5100: 'removed', 5101: 'removed', 5102: 'removed', 6000: 'removed' }, 'all of them: "automatically" took in acme too')
  t.same(hooksOn(service, 1000), [])
  t.same(hooksOn(service, 1001), [5002], "the chat hook someone added by hand is nobody's business here")
  t.same(hooksOn(service, 100), [], "acme's organization hook")
  const credentials = Object.fromEntries((await tasks(service)).map((r) => [r.hook_id, r.credential]))
  t.equal(credentials[5101], 'installation', "hubot's token is gone: the App's own permission deletes his hook")
  t.equal(credentials[6000], 'legacy', 'an organization hook only with the old token')
  t.equal(credentials[5000], 'legacy')
  const deletes = hookRequests(service).filter((e) => e.method === 'DELETE')
  t.equal(deletes.length, 7, 'one DELETE per hook')
  t.equal(hookRequests(service).filter((e) => e.method === 'GET').length, 7, 'one read per hook')
  const attempted = await events(service, 'hook_delete_attempted')
  t.equal(attempted.length, 7, 'an intent before each DELETE')
  t.equal((await events(service, 'hook_cleanup')).length, 7, 'one outcome each')
  t.same((await events(service, 'hook_removal_planned')).length, 7)
  const page = await view(app, cookie)
  t.equal(page.body.match(/<span class="status ok">Done<\/span>/g)?.length, 2, 'both batches read Done')
  t.match(page.body, 'Old webhooks: 3 removed, 0 remaining')
  t.notMatch(page.body, /Remove \d+ old webhook/, 'asked once')
})

t.test('each outcome: removed, already gone, foreign, coverage lost; a second run does nothing', async (t) => {
  const { service } = await monaCovered(t)
  const { state } = service.sim
  state.repos.get(1001)!.hooks.get(5001)!.url = 'https://elsewhere.example.org/hook'
  state.repos.get(1002)!.hooks.delete(5003)
  await agreeForMona(service)
  // Removed from the installation after the check: the run's own listing finds out.
  state.installations.get(500)!.repositoryIds.delete(1000)
  t.same(await runOnce(service, 1), [], 'nothing left for later')
  t.same(await outcomes(service), { 5000: 'not_covered', 5001: 'skipped_foreign', 5003: 'already_absent', 5100: 'pending', 5101: 'pending', 5102: 'pending', 6000: 'pending' })
  t.same(hooksOn(service, 1000), [5000], 'not covered: kept')
  t.same(hooksOn(service, 1001), [5001, 5002], 'foreign: kept')
  const reasons = Object.fromEntries((await tasks(service)).map((r) => [r.hook_id, r.reason]))
  t.match(reasons[5000], 'no longer among the repositories')
  t.match(reasons[5001], 'delivers to https://elsewhere.example.org, not to the old app')
  t.equal((await events(service, 'hook_delete_attempted')).length, 0, 'nothing was deleted, so nothing attempted')
  const requests = state.apiLog.length
  const eventCount = (await events(service, 'hook_cleanup')).length
  await runOnce(service, 1)
  t.equal(state.apiLog.length, requests, 'a second run asks GitHub nothing')
  t.equal((await events(service, 'hook_cleanup')).length, eventCount, 'and records nothing')
})

t.test("a revoked token: the App's permission removes repository hooks; an organization hook needs a person", async (t) => {
  const { service } = await monaCovered(t)
  await service.sim.sim.app.inject({ method: 'POST', url: '/_sim/users/mona/revoke-legacy-token' })
  service.sim.state.repos.get(1102)!.hooks.delete(5102)
  await agreeForMona(service)
  await runOnce(service, 100)
  t.same(await outcomes(service), { 5000: 'pending', 5001: 'pending', 5003: 'pending', 5100: 'removed', 5101: 'removed', 5102: 'already_absent', 6000: 'needs_manual' }, "the installation's 404 is the hook's absence")
  const rows = await tasks(service)
  t.ok(
    rows.filter((r) => r.hook_id >= 5100 && r.hook_id < 6000).every((r) => r.credential === 'installation'),
    'all through the installation',
  )
  const org = rows.find((r) => r.hook_id === 6000)!
  t.match(org.reason, /^The legacy token of mona was revoked/)
  t.match(org.reason, `delete hook 6000 on the organization acme by hand, at ${service.sim.url}/organizations/acme/settings/hooks/6000.`)
  t.same(hooksOn(service, 100), [6000], 'still there, for the person to delete')
  const revokedTries = service.sim.state.apiLog.filter((e) => e.tokenKind === 'invalid')
  t.equal(revokedTries.length, 1, 'the revoked token was tried once, then never again')
})

t.test('no working token and no Webhooks permission: needs a person, with the hook and the link', async (t) => {
  const world = installedWorld()
  world.app.permissions = { metadata: 'read', contents: 'read' }
  const { service } = await monaCovered(t, world)
  await service.sim.sim.app.inject({ method: 'POST', url: '/_sim/users/mona/revoke-legacy-token' })
  await agreeForMona(service)
  await runOnce(service, 1)
  const row = (await tasks(service)).find((r) => r.hook_id === 5000)!
  t.equal(row.state, 'needs_manual')
  t.equal(
    row.reason,
    `The legacy token of mona was revoked and the App lacks the Webhooks permission (repository_hooks: write) on this repository: delete hook 5000 on mona/dotfiles by hand, at ${service.sim.url}/mona/dotfiles/settings/hooks/5000.`,
  )
  t.same(hooksOn(service, 1000), [5000])
  t.equal((await events(service, 'hook_delete_attempted')).length, 0)
})

t.test('a DELETE whose answer is lost: the next run reads the hook gone and counts it as removed, once', async (t) => {
  const { service } = await monaCovered(t)
  const faults = (errors: unknown[]) => service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors } })
  await agreeForMona(service)
  await faults([{ pattern: 'DELETE /repositories/{repository_id}/hooks/{hook_id}', status: 502, rate: 1, lost: true }])
  t.same(await runOnce(service, 1), [60], 'GitHub did not answer: a run later')
  t.same(hooksOn(service, 1000), [], 'GitHub did delete it')
  t.same(await outcomes(service), { 5000: 'attempting', 5001: 'attempting', 5003: 'attempting', 5100: 'pending', 5101: 'pending', 5102: 'pending', 6000: 'pending' })
  await faults([])
  t.same(await runOnce(service, 1), [])
  t.same((await tasks(service)).filter((r) => r.hook_id < 5100).map((r) => [r.hook_id, r.state, r.attempts]), [
    [5000, 'removed', 1],
    [5001, 'removed', 1],
    [5003, 'removed', 1],
  ], 'our attempt preceded the 404: removed, not already absent; no second attempt')
  t.equal((await events(service, 'hook_cleanup')).filter((e) => e.outcome === 'removed').length, 3, 'one outcome each')
})

t.test('a 5xx then success: one removal', async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  let calls = 0
  // The first read of each hook fails once; octokit's retry gets the second.
  service.sim.state.random = () => (calls++ % 2 === 0 ? 0 : 1)
  await service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors: [{ pattern: 'GET /repositories/{repository_id}/hooks/{hook_id}', status: 503, rate: 0.5 }] } })
  t.same(await runOnce(service, 1), [])
  t.same(Object.values(await outcomes(service)).slice(0, 3), ['removed', 'removed', 'removed'])
  t.equal((await events(service, 'hook_cleanup')).length, 3)
  t.ok(service.sim.state.apiLog.some((e) => e.status === 503), 'GitHub did fail')
})

t.test("GitHub's retry-after on a DELETE: the lane waits that long and sends it again; one attempt, one removal", async (t) => {
  // The service's own lanes (a second of retry-after is 5 ms in tests), through the queue.
  const service = await serviceWithGitHub(t, installedWorld())
  const cookie = await signIn(service.app, service.sim, 1)
  const page = await view(service.app, cookie)
  let calls = 0
  // Every first DELETE of a hook is refused for a secondary limit, to be retried after 40 "seconds".
  service.sim.state.random = () => (calls++ % 2 === 0 ? 0 : 1)
  await service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors: [{ pattern: 'DELETE /repositories/{repository_id}/hooks/{hook_id}', status: 403, rate: 0.5, actor: 'mona', retryAfter: 40 }] } })
  await service.app.inject({ method: 'POST', url: formAction(page.body, 'Remove 3 old webhooks'), cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrfOf(page.body) } })
  await settled(service)
  t.same(Object.values(await outcomes(service)).slice(0, 3), ['removed', 'removed', 'removed'])
  t.same(hooksOn(service, 1000), [], 'gone from GitHub')
  const deletes = hookRequests(service).filter((e) => e.method === 'DELETE' && e.actor === 'mona')
  t.same(deletes.map((e) => e.status), [403, 204, 403, 204, 403, 204], 'each refused once, then carried out')
  for (let i = 0; i < deletes.length; i += 2) {
    t.ok(deletes[i + 1]!.at.getTime() - deletes[i]!.at.getTime() >= 40 * 5, 'sent again only after retry-after')
  }
  t.same((await events(service, 'hook_delete_attempted')).filter((e) => e.hook_id! < 5100).map((e) => (e.detail as { attempt: number }).attempt), [1, 1, 1], 'a refusal for a limit is no new attempt')
  t.equal((await events(service, 'hook_cleanup')).filter((e) => e.hook_id! < 5100).length, 3)
})

t.test('the installation removed before the run: nothing deleted, each hook not covered', async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  await service.sim.sim.app.inject({ method: 'DELETE', url: '/_sim/installations/500' })
  await runOnce(service, 1)
  t.same(Object.values(await outcomes(service)).slice(0, 3), ['not_covered', 'not_covered', 'not_covered'])
  t.same(hooksOn(service, 1000), [5000])
  t.equal(hookRequests(service).length, 0, 'no hook was even read')
})

t.test('runs take at most their share and ask for the next', async (t) => {
  const { service } = await monaCovered(t)
  await agreeForMona(service)
  t.same(await runOnce(service, 1, 100, 1), [0], "one of mona's three at most: the next run at once")
  t.same(await runOnce(service, 1, 2), [0], 'two of the other two: the next run at once')
  t.same(await runOnce(service, 1, 2), [], 'nothing left')
  t.same(Object.values(await outcomes(service)).slice(0, 3), ['removed', 'removed', 'removed'])
})

t.test('an organization hook already gone is confirmed by listing the organization hooks; a hook without a readable URL is kept', async (t) => {
  const { service } = await monaCovered(t)
  service.sim.state.orgs.get(100)!.hooks.delete(6000)
  service.sim.state.repos.get(1100)!.hooks.get(5100)!.url = 'not a url'
  await agreeForMona(service)
  await runOnce(service, 100)
  t.match(await outcomes(service), { 5100: 'skipped_foreign', 5101: 'removed', 5102: 'removed', 6000: 'already_absent' })
  t.match((await tasks(service)).find((r) => r.hook_id === 5100)!.reason, 'delivers to another address')
  t.ok(service.sim.state.apiLog.some((e) => e.method === 'GET' && e.path === '/orgs/acme/hooks'), "the organization's hooks listed to mona's token")
})

t.test("a token that no longer administers the repository: the App's permission removes the hook", async (t) => {
  const world = installedWorld()
  // acme/vault enabled by octo, who can only read it now.
  world.legacy_registrations!.find((r) => r.hook_id === 5102)!.github_user_id = 3
  const { service } = await monaCovered(t, world)
  await agreeForMona(service)
  await runOnce(service, 100)
  const vault = (await tasks(service)).find((r) => r.hook_id === 5102)!
  t.match(vault, { state: 'removed', credential: 'installation', attempts: 1 })
  t.same(hooksOn(service, 1102), [])
})
