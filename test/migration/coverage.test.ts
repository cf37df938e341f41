import t from 'tap'
import { serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { clientFor } from '../helpers/simulator.js'
import { formAction, press, settled, view } from '../helpers/wizard.js'
import { monaInstalled, section, installedOnMona, monaSection, checkAgain, coverageOf, checks, deafen } from '../helpers/coverage-world.js'

// Coverage as the user sees it on /migrate: which legacy repositories the App's installation
// covers, asked with an installation token and compared by id; gone, moved and not covered told
// apart with the user's legacy token; "Check again"; GitHub's replication lag on new tokens;
// suspended installations. Uninstalled ones, owners and their many users are in
// coverage-owners.test.ts (two files, so that each stays well within tap's per-file timeout
// when files run side by side).

t.test('gone, moved and not covered, each told apart; "Check again" asks GitHub again', async (t) => {
  const { service, app, sim, cookie } = await monaInstalled(t)
  const first = await monaSection(service, cookie)
  t.match(first, /Covered[\s\S]*Coverage: 3 covered \(checked /)

  // dotfiles deleted, new-name transferred to acme (where mona is an owner): GitHub sends the
  // App no webhook for either, so the page does not know until it checks again.
  t.equal((await sim.sim.app.inject({ method: 'DELETE', url: '/_sim/repos/1000' })).statusCode, 200)
  t.equal((await sim.sim.app.inject({ method: 'POST', url: '/_sim/repos/1002/transfer', payload: { owner: 'acme' } })).statusCode, 200)
  t.match(await monaSection(service, cookie), 'Coverage: 3 covered', 'nothing heard yet')
  const before = (await checks(service)).length
  await checkAgain(service, cookie)
  const after = await monaSection(service, cookie)
  t.match(after, 'Coverage: 1 covered, 1 gone, 1 moved')
  t.match(after, /mona\/dotfiles[\s\S]*?<span class="coverage gone">gone from GitHub<\/span>/)
  t.match(after, /mona\/new-name[\s\S]*?<span class="coverage moved">moved to acme<\/span>/)
  t.match(after, /mona\/site \(private\)[\s\S]*?<span class="coverage covered">covered<\/span>/)
  t.match(after, /Covered/, 'what is left is covered')
  t.same(await coverageOf(service), [
    { repo_id: 1000, coverage: 'gone', moved_to: null },
    { repo_id: 1001, coverage: 'covered', moved_to: null },
    { repo_id: 1002, coverage: 'moved', moved_to: 'acme' },
  ])
  const audited = (await checks(service)).slice(before)
  t.match(audited, [{ actor_login: 'mona', owner_login: 'mona', installation_id: 500, outcome: 'covered', detail: { covered: 1, gone: 1, moved: 1, not_covered: 0, repositorySelection: 'selected' } }])

  // site taken out of the installation (GitHub sends installation_repositories removed).
  const legacy = clientFor(sim.apiUrl, 'gho_legacy_mona_0001')
  await legacy.request('DELETE /user/installations/{installation_id}/repositories/{repository_id}', { installation_id: 500, repository_id: 1001 })
  await settled(service)
  const removed = await monaSection(service, cookie)
  t.match(removed, 'Coverage: 0 covered, 1 not covered, 1 gone, 1 moved')
  t.match(removed, /mona\/site \(private\)[\s\S]*?<span class="coverage not_covered">not covered<\/span>/)
  t.notMatch(removed, /status ok">Covered/)
  t.match(removed, 'Add the 1 missing repository', 'not covered offers the fix')
  await press(app, cookie, formAction(removed, 'Add the 1 missing repository'))
  await settled(service)
  t.match(await monaSection(service, cookie), /Covered[\s\S]*Coverage: 1 covered, 1 gone, 1 moved/)
})

t.test('every repository gone or moved: nothing left to migrate, and no link installing on everything', async (t) => {
  const { service, app, sim, cookie } = await monaInstalled(t)
  await view(app, cookie)
  for (const id of [1000, 1001]) await sim.sim.app.inject({ method: 'DELETE', url: `/_sim/repos/${id}` })
  await sim.sim.app.inject({ method: 'POST', url: '/_sim/repos/1002/transfer', payload: { owner: 'acme' } })
  await checkAgain(service, cookie)
  const mona = await monaSection(service, cookie)
  t.match(mona, 'Nothing is left to migrate here: GitHub no longer shows these repositories on mona')
  t.notMatch(mona, /Install on mona|\/install"/, 'no install link (it would preselect nothing: all repositories)')
})

t.test("the first 401 of a new installation token is GitHub's replication lag: retried, and coverage still checked", async (t) => {
  const service = await serviceWithGitHub(t, installedOnMona())
  const { app, sim } = service
  const lag = await sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { installationTokenLag: true } })
  t.equal(lag.statusCode, 200)
  const cookie = await signIn(app, sim, 1)
  t.match(await monaSection(service, cookie), /Covered[\s\S]*Coverage: 3 covered/)
  const listed = sim.state.apiLog.filter((e) => e.path === '/installation/repositories').map((e) => e.status)
  t.same(listed, [401, 200], 'refused once, then answered')
})

t.test('repository_selection "all" covers every repository of the owner, and replaces an org hook', async (t) => {
  const world = installedOnMona('all')
  world.installations!.push({ id: 501, account: 'acme', repository_selection: 'all' })
  const service = await serviceWithGitHub(t, world)
  const { app, sim } = service
  const cookie = await signIn(app, sim, 1)
  const body = (await view(app, cookie)).body
  t.match(section(body, 'mona'), /Covered[\s\S]*Coverage: 3 covered/)
  const acme = section(body, 'acme')
  t.match(acme, /Covered[\s\S]*replaces the organization webhook/)
  t.match(acme, 'The organization webhook (enabled by mona) is replaced by the installation')
  const installation = await service.tdb.db.selectFrom('app.installation').selectAll().where('id', '=', 501).executeTakeFirstOrThrow()
  t.equal(installation.repository_selection, 'all')
  // The two owners are checked by jobs of their own, in either order.
  t.match(
    (await checks(service)).sort((a, b) => a.owner_login!.localeCompare(b.owner_login!)),
    [
      { owner_login: 'acme', outcome: 'covered', detail: { repositorySelection: 'all', covered: 3, orgHooks: 1, orgHooksCovered: true } },
      { owner_login: 'mona', outcome: 'covered', detail: { repositorySelection: 'all', covered: 3 } },
    ],
  )
})

t.test('suspended: the problem is shown, nothing counts as covered, and unsuspending brings it back', async (t) => {
  const { service, app, sim, cookie } = await monaInstalled(t)
  await view(app, cookie)
  t.equal((await sim.sim.app.inject({ method: 'POST', url: '/_sim/installations/500/suspend' })).statusCode, 200)
  await settled(service)
  const suspended = await monaSection(service, cookie)
  t.match(suspended, '<p class="problem">The App&#39;s installation on mona is suspended: GitHub sends it no events until it is unsuspended.</p>')
  t.notMatch(suspended, /status ok">Covered/)
  t.match(suspended, 'Coverage: 0 covered, 3 not covered')
  t.notMatch(suspended, 'Add the', 'no fix the user can make: an owner must unsuspend')
  t.match((await checks(service)).at(-1), { outcome: 'not_covered', reason: /suspended/, installation_id: 500 })

  await sim.sim.app.inject({ method: 'POST', url: '/_sim/installations/500/unsuspend' })
  await settled(service)
  t.match(await monaSection(service, cookie), /Covered[\s\S]*Coverage: 3 covered/)
})

t.test('suspended while the service did not hear of it: GitHub refusing the token is explained, not a crash', async (t) => {
  const { service, app, sim, cookie } = await monaInstalled(t)
  await view(app, cookie)
  deafen(service)
  await sim.sim.app.inject({ method: 'POST', url: '/_sim/installations/500/suspend' })
  await checkAgain(service, cookie)
  const mona = await monaSection(service, cookie)
  t.match(mona, 'The App&#39;s installation on mona is suspended: GitHub sends it no events until it is unsuspended.')
  t.notMatch(mona, /status ok">Covered/)
  const recorded = await service.tdb.db.selectFrom('app.installation').select('suspended_at').where('id', '=', 500).executeTakeFirstOrThrow()
  t.ok(recorded.suspended_at instanceof Date, 'the suspension is recorded')

  // Refused for another reason (the installation is there and not suspended): said as it is.
  await sim.sim.app.inject({ method: 'POST', url: '/_sim/installations/500/unsuspend' })
  sim.state.faults.errors = [{ method: 'GET', pattern: '/installation/repositories', status: 403, rate: 1 }]
  await checkAgain(service, cookie)
  t.match(await monaSection(service, cookie), '<p class="problem">GitHub refused the App&#39;s installation on mona.</p>')
  // A 401 for a live installation says nothing about it: GitHub did not answer, and the page says so.
  sim.state.faults.errors = [{ method: 'GET', pattern: '/installation/repositories', status: 401, rate: 1 }]
  const failed = await press(app, cookie, formAction(await monaSection(service, cookie), 'Check again'))
  await settled(service)
  t.equal(failed.statusCode, 303, 'no error page')
  t.match(await monaSection(service, cookie), 'GitHub did not answer when coverage was checked (HTTP 401): check again in a moment.')
  // So is GitHub failing when asked what became of the installation.
  sim.state.faults.errors = [
    { method: 'GET', pattern: '/installation/repositories', status: 403, rate: 1 },
    { method: 'GET', pattern: '/app/installations/{installation_id}', status: 500, rate: 1 },
  ]
  t.equal((await press(app, cookie, formAction(await monaSection(service, cookie), 'Check again'))).statusCode, 303)
  await settled(service)
  t.match(await monaSection(service, cookie), '(HTTP 500)')
  sim.state.faults.errors = []
  await checkAgain(service, cookie)
  t.match(await monaSection(service, cookie), /Covered[\s\S]*Coverage: 3 covered/, 'and back to covered when GitHub answers')
})
