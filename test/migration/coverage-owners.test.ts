import t from 'tap'
import { checkCoverage } from '../../src/migration/coverage.js'
import { githubClientsOf, serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld } from '../helpers/simulator.js'
import { formAction, press, settled, view } from '../helpers/wizard.js'
import { monaInstalled, section, installedOnMona, monaSection, checkAgain, coverageOf, checks, deafen } from '../helpers/coverage-world.js'

// Coverage on /migrate, continued from coverage.test.ts: uninstalled installations (heard of
// or not), a legacy token that cannot tell gone from moved, every batch of an owner getting one
// check's result, and checks waiting for an add run (accounts: coverage-accounts.test.ts).

t.test('uninstalled: the install step is back, with the reason', async (t) => {
  const { service, app, sim, cookie } = await monaInstalled(t)
  await view(app, cookie)
  t.equal((await sim.sim.app.inject({ method: 'DELETE', url: '/_sim/installations/500' })).statusCode, 200)
  await settled(service)
  const heard = await monaSection(service, cookie)
  t.match(heard, 'The App is not installed on mona.')
  t.match(heard, 'Install on mona')
  t.notMatch(heard, 'Check again')
  const batch = await service.tdb.db.selectFrom('app.batch').selectAll().where('owner_login', '=', 'mona').executeTakeFirstOrThrow()
  t.match(batch, { state: 'planned', installation_id: null })

  const link = new URL((await press(app, cookie, formAction(heard, 'Install on mona'))).headers.location as string)
  t.same(link.searchParams.getAll('repository_ids[]').sort(), ['1000', '1001', '1002'], 'the link preselects all three again')
})

t.test('uninstalled while the service did not hear of it: "Check again" finds out from GitHub', async (t) => {
  const { service, app, sim, cookie } = await monaInstalled(t)
  t.match(await monaSection(service, cookie), /Covered/)
  deafen(service)
  await sim.sim.app.inject({ method: 'DELETE', url: '/_sim/installations/500' })
  await checkAgain(service, cookie)
  const unheard = await monaSection(service, cookie)
  t.match(unheard, 'The App is no longer installed on mona.')
  t.match(unheard, 'Install on mona')
  t.notMatch(unheard, /status ok">Covered/)
  const recorded = await service.tdb.db.selectFrom('app.installation').select('deleted_at').where('id', '=', 500).executeTakeFirstOrThrow()
  t.ok(recorded.deleted_at instanceof Date, 'the installation is recorded as gone')
})

t.test('planning again notices an installation that is gone, even without its webhook', async (t) => {
  const { service, app, sim, cookie } = await monaInstalled(t)
  t.match(await monaSection(service, cookie), /Covered/)
  deafen(service)
  await sim.sim.app.inject({ method: 'DELETE', url: '/_sim/installations/500' })
  t.equal((await press(app, cookie, '/migrate/refresh')).statusCode, 303)
  const mona = await monaSection(service, cookie)
  t.match(mona, 'The App is no longer installed on mona.')
  t.match(mona, 'Install on mona')
  t.notMatch(mona, /status ok">Covered/)
})

t.test('without a usable legacy token, what the installation does not list is "not covered": no guess at gone or moved', async (t) => {
  const { service, app, sim, cookie } = await monaInstalled(t)
  await view(app, cookie)
  await sim.sim.app.inject({ method: 'DELETE', url: '/_sim/repos/1000' })
  // GitHub failing on the lookup of what the installation does not list: not covered, no guess
  // at gone, and no error page.
  sim.state.faults.errors = [{ method: 'GET', pattern: '/repositories/{repository_id}', status: 502, rate: 1 }]
  const failed = await press(app, cookie, formAction(await monaSection(service, cookie), 'Check again'))
  await settled(service)
  t.equal(failed.statusCode, 303)
  t.same((await coverageOf(service)).map((r) => r.coverage), ['not_covered', 'covered', 'covered'])
  sim.state.faults.errors = []
  await checkAgain(service, cookie)
  t.same((await coverageOf(service)).map((r) => r.coverage), ['gone', 'covered', 'covered'], 'told apart once GitHub answers')
  // Revoked on GitHub, still on record.
  sim.state.revokeLegacyToken(sim.state.userByLogin('mona')!)
  await checkAgain(service, cookie)
  t.same((await coverageOf(service)).map((r) => r.coverage), ['not_covered', 'covered', 'covered'])
  // No longer on record either.
  await service.tdb.db.updateTable('legacy.oauth_users').set({ oauth_token: null }).where('github_user_id', '=', 1).execute()
  const before = sim.state.apiLog.length
  await checkAgain(service, cookie)
  t.same((await coverageOf(service)).map((r) => r.coverage), ['not_covered', 'covered', 'covered'])
  t.notOk(
    sim.state.apiLog.slice(before).some((e) => e.tokenKind === 'legacy'),
    'no lookup with a token that is not there',
  )
})

t.test('every batch of the owner gets the result, whoever planned it; GitHub failing is said on the page, and what was known stays', async (t) => {
  const world = demoWorld()
  world.installations = [{ id: 501, account: 'acme', repository_selection: 'selected', repositories: [1100, 1102] }]
  const service = await serviceWithGitHub(t, world)
  const { app, sim } = service
  const mona = await signIn(app, sim, 1)
  const octo = await signIn(app, sim, 3)
  await view(app, mona)
  await view(app, octo)
  t.same((await coverageOf(service, 'acme', 3)).map((r) => [r.repo_id, r.coverage]), [
    [1100, 'covered'],
    [1101, 'not_covered'],
    [1102, 'covered'],
  ])
  // mona adds web; octo's batch, planned by octo, shows it covered too.
  await press(app, mona, formAction(section((await view(app, mona)).body, 'acme'), 'Add the 1 missing repository'))
  await settled(service)
  t.same((await coverageOf(service, 'acme', 3)).map((r) => r.coverage), ['covered', 'covered', 'covered'])
  t.match(section((await view(app, octo)).body, 'acme'), 'Coverage: 3 covered')

  sim.state.faults.errors = [{ method: 'GET', pattern: '/installation/repositories', status: 502, rate: 1 }]
  const failed = await press(app, mona, formAction(section((await view(app, mona)).body, 'acme'), 'Check again'))
  await settled(service)
  t.equal(failed.statusCode, 303, 'no error page')
  t.match(section((await view(app, octo)).body, 'acme'), 'GitHub did not answer when coverage was checked (HTTP 502): check again in a moment.', 'on every batch of the owner')
  t.same((await coverageOf(service, 'acme', 3)).map((r) => r.coverage), ['covered', 'covered', 'covered'], 'what was known stays')
})

t.test('while repositories are being added, checks wait for the job that adds them; an owner with no batch is no work', async (t) => {
  const world = installedOnMona()
  const service = await serviceWithGitHub(t, world)
  const { app, sim } = service
  const cookie = await signIn(app, sim, 1)
  await view(app, cookie)
  await service.tdb.db.updateTable('app.batch').set({ state: 'adding' }).where('owner_login', '=', 'mona').execute()
  const before = (await checks(service)).length
  t.match(await monaSection(service, cookie), 'Adding repositories to the installation')
  await checkAgain(service, cookie)
  t.equal((await checks(service)).length, before, 'no check while adding')

  const github = githubClientsOf(service)
  const calls = sim.state.apiLog.length
  await checkCoverage(service.tdb.db, github, 424242, { actor: { kind: 'user', githubId: 1, login: 'mona' }, cleanup: async () => {} })
  t.equal((await checks(service)).length, before)
  t.equal(sim.state.apiLog.length, calls, 'GitHub not asked')
})
