import t from 'tap'
import { checkCoverage } from '../../src/migration/coverage.js'
import { fromApi } from '../../src/migration/installations.js'
import type { World } from '../../src/simulator/world.js'
import { githubClientsOf, serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld } from '../helpers/simulator.js'
import { formAction, press, settled, view } from '../helpers/wizard.js'
import { monaInstalled, section, installedOnMona, monaSection, checkAgain, coverageOf, checks, deafen } from '../helpers/coverage-world.js'

// Coverage on /migrate, continued from coverage.test.ts: uninstalled installations (heard of
// or not), a legacy token that cannot tell gone from moved, every batch of an owner getting one
// check's result, checks waiting for an add run, and an owner with many vendor users.

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

t.test("an installation GitHub describes without a login (an enterprise's account has a slug) keeps the login the service knows", async (t) => {
  t.same(fromApi({ id: 7, account: { id: 42 }, repository_selection: 'all', suspended_at: '2026-01-01T00:00:00Z' }, 'acme-enterprise'), {
    id: 7,
    accountId: 42,
    accountLogin: 'acme-enterprise',
    repositorySelection: 'all',
    suspendedAt: new Date('2026-01-01T00:00:00Z'),
  })
})

/**
 * An org, big, with `users` vendor users, each of whom enabled ten of its 120 public
 * repositories; the App installed on big with the first 115 (two pages of the listing).
 */
function bigOrg(users = 12): World {
  const world = demoWorld()
  const logins = Array.from({ length: users }, (_, i) => `u${i + 1}`)
  world.users.push(...logins.map((login, i) => ({ id: 2001 + i, login, legacy_token: `gho_legacy_${login}_000${i}`, legacy_scopes: ['repo', 'admin:repo_hook'] })))
  world.orgs!.push({ id: 300, login: 'big', members: Object.fromEntries(logins.map((l) => [l, 'member' as const])) })
  for (let i = 0; i < users * 10; i++) {
    const repoId = 3000 + i
    world.repos.push({ id: repoId, owner: 'big', name: `r${i}`, hooks: [{ id: 8000 + i, url: 'https://ci.example.com/hooks/github', created_by: 'legacy-oauth-client' }] })
    world.legacy_registrations!.push({
      github_user_id: 2001 + Math.floor(i / 10),
      kind: 'repo',
      owner_id: 300,
      owner_login: 'big',
      owner_type: 'Organization',
      repo_id: repoId,
      repo_name: `r${i}`,
      hook_id: 8000 + i,
      hook_url: 'https://ci.example.com/hooks/github',
      created_at: '2020-01-01T00:00:00Z',
    })
  }
  world.installations = [{ id: 700, account: 'big', repository_selection: 'selected', repositories: Array.from({ length: 115 }, (_, i) => 3000 + i) }]
  return world
}

t.test('an owner with many vendor users: one listing, and one lookup per repository it misses, whatever the number of users', async (t) => {
  const users = 12
  const service = await serviceWithGitHub(t, bigOrg(users))
  const { app, sim } = service
  const cookies: string[] = []
  for (let i = 0; i < users; i++) {
    cookies.push(await signIn(app, sim, 2001 + i))
    await view(app, cookies[i]!)
  }
  await settled(service)
  // r115..r119, enabled by u12 and held by every user's batch: one deleted, one moved to acme.
  await sim.sim.app.inject({ method: 'DELETE', url: '/_sim/repos/3115' })
  await sim.sim.app.inject({ method: 'POST', url: '/_sim/repos/3116/transfer', payload: { owner: 'acme' } })
  const big = async (cookie: string) => section((await view(app, cookie)).body, 'big')

  const checkBig = async (): Promise<typeof sim.state.apiLog> => {
    const before = sim.state.apiLog.length
    const res = await press(app, cookies[0]!, formAction(await big(cookies[0]!), 'Check again'))
    t.equal(res.statusCode, 303)
    await settled(service)
    return sim.state.apiLog.slice(before)
  }
  const expected = { covered: 115, gone: 1, moved: 1, not_covered: 3 }
  const counted = async (userId: number) => {
    const rows = await coverageOf(service, 'big', userId)
    return { covered: rows.filter((r) => r.coverage === 'covered').length, gone: rows.filter((r) => r.coverage === 'gone').length, moved: rows.filter((r) => r.moved_to === 'acme').length, not_covered: rows.filter((r) => r.coverage === 'not_covered').length }
  }

  const calls = await checkBig()
  const listings = calls.filter((e) => e.path === '/installation/repositories')
  const lookups = calls.filter((e) => e.path.startsWith('/repositories/'))
  t.equal(listings.length, 2, 'the installation listed once: two pages of 100')
  t.same(lookups.map((e) => e.path).sort(), ['/repositories/3115', '/repositories/3116', '/repositories/3117', '/repositories/3118', '/repositories/3119'], 'each repository the listing missed looked up once')
  t.same([...new Set(lookups.map((e) => e.actor))], ['u12'], "with the token of the user who enabled them, not every user's")
  t.ok(calls.length <= listings.length + lookups.length + 1, `nothing else but an installation token (${calls.length} requests)`)
  for (let i = 0; i < users; i++) t.same(await counted(2001 + i), expected, `u${i + 1}'s batch has the result`)
  t.match(await big(cookies[5]!), 'Coverage: 115 covered, 3 not covered, 1 gone, 1 moved')

  // u12's token revoked on GitHub: it answers for nothing, and the next user whose batch holds
  // those repositories answers instead; one more token, not one per user.
  sim.state.revokeLegacyToken(sim.state.userByLogin('u12')!)
  const again = (await checkBig()).filter((e) => e.path.startsWith('/repositories/'))
  t.equal(again.filter((e) => e.status === 401).length, 5, "u12's token refused (GitHub names no one for a revoked token)")
  t.same(
    again.filter((e) => e.status !== 401).map((e) => e.actor),
    ['u1', 'u1', 'u1', 'u1', 'u1'],
  )
  for (let i = 0; i < users; i++) t.same(await counted(2001 + i), expected)
})
