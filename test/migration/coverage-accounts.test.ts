import t from 'tap'
import { fromApi } from '../../src/migration/installations.js'
import type { World } from '../../src/simulator/world.js'
import { serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld } from '../helpers/simulator.js'
import { formAction, press, settled, view } from '../helpers/wizard.js'
import { section, coverageOf } from '../helpers/coverage-world.js'

// Coverage on /migrate, continued from coverage-owners.test.ts: the accounts checked, an
// enterprise's without a login, and an owner with many vendor users.

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
 * An org, big, with `users` vendor users, each of whom enabled `each` of its public
 * repositories; the App installed on big with the first `installed` of them (115: two pages of
 * the listing).
 */
function bigOrg(users = 12, each = 10, installed = 115): World {
  const world = demoWorld()
  const logins = Array.from({ length: users }, (_, i) => `u${i + 1}`)
  world.users.push(...logins.map((login, i) => ({ id: 2001 + i, login, legacy_token: `gho_legacy_${login}_000${i}`, legacy_scopes: ['repo', 'admin:repo_hook'] })))
  world.orgs!.push({ id: 300, login: 'big', members: Object.fromEntries(logins.map((l) => [l, 'member' as const])) })
  for (let i = 0; i < users * each; i++) {
    const repoId = 3000 + i
    world.repos.push({ id: repoId, owner: 'big', name: `r${i}`, hooks: [{ id: 8000 + i, url: 'https://ci.example.com/hooks/github', created_by: 'legacy-oauth-client' }] })
    world.legacy_registrations!.push({
      github_user_id: 2001 + Math.floor(i / each),
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
  world.installations = [{ id: 700, account: 'big', repository_selection: 'selected', repositories: Array.from({ length: installed }, (_, i) => 3000 + i) }]
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

t.test("one user answering for more than a hundred repositories the listing missed: that user's own list, not a lookup each", async (t) => {
  const service = await serviceWithGitHub(t, bigOrg(1, 150, 20))
  const { app, sim } = service
  const cookie = await signIn(app, sim, 2001)
  await view(app, cookie)
  await settled(service)
  // r149 deleted since: the list no longer has it, and only it is looked up on its own.
  await sim.sim.app.inject({ method: 'DELETE', url: '/_sim/repos/3149' })
  const before = sim.state.apiLog.length
  t.equal((await press(app, cookie, formAction(section((await view(app, cookie)).body, 'big'), 'Check again'))).statusCode, 303)
  await settled(service)
  const calls = sim.state.apiLog.slice(before)
  t.same(
    calls.filter((e) => e.path.startsWith('/repositories/')).map((e) => [e.path, e.status]),
    [['/repositories/3149', 404]],
    'one lookup, of the repository the list no longer has',
  )
  t.equal(calls.filter((e) => e.path === '/user/repos' && e.actor === 'u1').length, 2, "u1's list: two pages of 100 for 130 repositories")
  const rows = await coverageOf(service, 'big', 2001)
  t.same(
    { covered: rows.filter((r) => r.coverage === 'covered').length, not_covered: rows.filter((r) => r.coverage === 'not_covered').length, gone: rows.filter((r) => r.coverage === 'gone').length },
    { covered: 20, not_covered: 129, gone: 1 },
  )
  t.match(section((await view(app, cookie)).body, 'big'), 'Coverage: 20 covered, 129 not covered, 1 gone')
})
