import t from 'tap'
import type { World } from '../../../src/simulator/world.js'
import { failure } from '../../helpers/request-error.js'
import { appFor, clientFor, demoWorld, startSimulator } from '../../helpers/simulator.js'
import { withScopes } from '../../helpers/scoped-world.js'

const MONA = 'gho_legacy_mona_0001'
const OCTO = 'gho_legacy_octo_0003'

t.test('GET /user answers the token owner, with GitHub private-user fields for the user scope only', async (t) => {
  const { apiUrl } = await startSimulator(t, withScopes({ octo: ['user'] }))
  const { data, headers } = await clientFor(apiUrl, OCTO).request('GET /user')
  t.match(data, { login: 'octo', id: 3, type: 'User', site_admin: false, public_repos: 0, total_private_repos: 0, user_view_type: 'private' })
  t.equal(data.url, `${apiUrl}/users/octo`)
  t.equal(data.html_url, apiUrl.replace('/api/v3', '/octo'))
  t.equal(data.node_id, Buffer.from('04:User3').toString('base64'))
  t.equal(headers['x-oauth-scopes'], 'repo, admin:repo_hook, user', 'classic tokens show their scopes')
  t.equal(headers['x-accepted-oauth-scopes'], '', 'GET /user needs no scope')
  const mona = await clientFor(apiUrl, MONA).request('GET /user')
  t.match(mona.data, { login: 'mona', public_repos: 2, user_view_type: 'public' }, 'without user: the public profile')
  t.notOk('total_private_repos' in mona.data || 'two_factor_authentication' in mona.data, 'no private profile field')
})

t.test('GET /user with a ghu_ token, a ghs_ token, no token, a bad token and the JWT', async (t) => {
  const sim = await startSimulator(t)
  const { token } = sim.state.issueUserToken(3)
  t.equal((await clientFor(sim.apiUrl, token).request('GET /user')).data.login, 'octo')
  const { installation } = sim.state.install(100, 'all', [])
  const inst = await appFor(sim).getInstallationOctokit(installation.id)
  t.match(await failure(inst.request('GET /user')), { status: 403, message: /Resource not accessible by integration/ })
  t.match(await failure(clientFor(sim.apiUrl, undefined).request('GET /user')), { status: 401, message: /Requires authentication/ })
  const bad = await failure(clientFor(sim.apiUrl, 'gho_unknown').request('GET /user'))
  t.match(bad, { status: 401, response: { data: { message: 'Bad credentials', documentation_url: /^https:\/\/docs\.github\.com/ } } })
  const { token: jwt } = (await appFor(sim).octokit.auth({ type: 'app' })) as { token: string }
  t.match(await failure(clientFor(sim.apiUrl, jwt).request('GET /user')), { status: 403, message: /Resource not accessible by integration/ }, 'the JWT is only for the app endpoints')
})

t.test('an expired ghu_ token and a revoked legacy token get 401', async (t) => {
  const sim = await startSimulator(t)
  const { token } = sim.state.issueUserToken(1, new Date(Date.now() - 9 * 3600_000))
  t.match(await failure(clientFor(sim.apiUrl, token).request('GET /user')), { status: 401, message: /Bad credentials/ })
  sim.state.revokeLegacyToken(sim.state.users.get(1)!)
  t.match(await failure(clientFor(sim.apiUrl, MONA).request('GET /user')), { status: 401 })
  t.match(sim.state.apiLog.at(-1), { method: 'GET', path: '/user', tokenKind: 'invalid', status: 401 })
  t.notOk(JSON.stringify(sim.state.apiLog).includes(MONA), 'the log never holds a token')
})

t.test('GET /user/repos with a legacy token: the repos the user has a role on, by full name', async (t) => {
  const sim = await startSimulator(t)
  const names = async (token: string, query = {}) => (await clientFor(sim.apiUrl, token).request('GET /user/repos', query)).data.map((r) => r.full_name)
  t.same(await names(MONA), ['acme/api', 'acme/vault', 'acme/web', 'mona/dotfiles', 'mona/new-name', 'mona/site', 'widgets/core'])
  t.same(await names(OCTO), ['acme/api', 'acme/vault', 'acme/web', 'widgets/core'], 'acme members read every repo (base permission read)')
  t.same(await names(MONA, { affiliation: 'owner' }), ['mona/dotfiles', 'mona/new-name', 'mona/site'])
  t.same(await names(MONA, { type: 'owner' }), ['mona/dotfiles', 'mona/new-name', 'mona/site'])
  t.same(await names(OCTO, { affiliation: 'collaborator' }), ['acme/vault'])
  t.same(await names(MONA, { type: 'member' }), ['acme/api', 'acme/vault', 'acme/web', 'widgets/core'])
  t.same(await names(MONA, { visibility: 'public' }), ['mona/dotfiles', 'mona/new-name', 'widgets/core'])
  t.same(await names(MONA, { type: 'private' }), ['acme/api', 'acme/vault', 'acme/web', 'mona/site'])
  t.same(await names(MONA, { direction: 'desc' }), ['widgets/core', 'mona/site', 'mona/new-name', 'mona/dotfiles', 'acme/web', 'acme/vault', 'acme/api'])
  t.same(await names(MONA, { visibility: 'bogus', sort: 'bogus', direction: 'bogus' }), await names(MONA), 'unknown values fall back to the defaults')
  const perms = (await clientFor(sim.apiUrl, OCTO).request('GET /user/repos')).data.map((r) => [r.full_name, r.permissions])
  t.same(perms[1], ['acme/vault', { admin: false, maintain: false, push: false, triage: false, pull: true }])
  t.same(perms[3], ['widgets/core', { admin: true, maintain: true, push: true, triage: true, pull: true }])
  const refused = await failure(clientFor(sim.apiUrl, MONA).request('GET /user/repos', { type: 'owner', visibility: 'public' }))
  t.equal(refused.status, 422, 'type cannot be combined with visibility, as on GitHub')
})

t.test('GET /user/repos sorts by time newest first and keeps up with renames', async (t) => {
  const sim = await startSimulator(t)
  const client = clientFor(sim.apiUrl, MONA)
  sim.state.repos.get(1002)!.updatedAt = new Date(Date.now() + 1000)
  sim.state.touch()
  t.equal((await client.request('GET /user/repos', { sort: 'updated' })).data[0]!.full_name, 'mona/new-name')
  t.equal((await client.request('GET /user/repos', { sort: 'pushed', direction: 'asc' })).data.at(-1)!.full_name, 'mona/new-name')
  t.same((await client.request('GET /user/repos', { sort: 'created' })).data.map((r) => r.id), [1200, 1102, 1101, 1100, 1002, 1001, 1000], 'equal times: by id, in the same direction')
  sim.state.renameRepo(sim.state.repos.get(1000)!, 'zz-dotfiles')
  t.equal((await client.request('GET /user/repos', { affiliation: 'owner' })).data.at(-1)!.full_name, 'mona/zz-dotfiles')
  sim.state.deleteRepo(sim.state.repos.get(1001)!)
  t.same((await client.request('GET /user/repos', { affiliation: 'owner' })).data.map((r) => r.name), ['new-name', 'zz-dotfiles'], 'a deleted repo is gone')
})

t.test('GET /user/repos without the repo scope lists public repos only', async (t) => {
  const world = demoWorld()
  world.users[0]!.legacy_scopes = ['admin:repo_hook']
  const sim = await startSimulator(t, world)
  const names = (await clientFor(sim.apiUrl, MONA).request('GET /user/repos')).data.map((r) => r.full_name)
  t.same(names, ['mona/dotfiles', 'mona/new-name', 'widgets/core'])
})

t.test('GET /user/repos with a ghu_ token lists only repos of installations the user can access', async (t) => {
  const sim = await startSimulator(t)
  const { token } = sim.state.issueUserToken(1)
  const names = async () => (await clientFor(sim.apiUrl, token).request('GET /user/repos')).data.map((r) => r.full_name)
  t.same(await names(), [], 'the app is installed nowhere yet')
  sim.state.install(100, 'selected', [1100, 1102])
  const { installation } = sim.state.install(1, 'all', [])
  t.same(await names(), ['acme/api', 'acme/vault', 'mona/dotfiles', 'mona/new-name', 'mona/site'])
  installation.suspendedAt = new Date()
  t.same(await names(), ['acme/api', 'acme/vault'], 'a suspended installation reaches nothing')
})

t.test('GET /user/repos pages through 250 repos with octokit.paginate', async (t) => {
  const world: World = demoWorld()
  for (let i = 0; i < 250; i++) world.repos.push({ id: 20000 + i, owner: 'octo', name: `r${String(i).padStart(3, '0')}`, private: i % 2 === 0 })
  const sim = await startSimulator(t, world)
  const client = clientFor(sim.apiUrl, OCTO)
  const all = await client.paginate('GET /user/repos', { per_page: 100, affiliation: 'owner' })
  t.equal(all.length, 250)
  t.same(all.slice(0, 2).map((r) => r.name), ['r000', 'r001'])
  t.equal(new Set(all.map((r) => r.id)).size, 250, 'no repo twice')
  const first = await client.request('GET /user/repos', { affiliation: 'owner' })
  t.equal(first.data.length, 30, '30 a page by default')
  t.equal(
    first.headers.link,
    `<${sim.apiUrl}/user/repos?affiliation=owner&page=2>; rel="next", <${sim.apiUrl}/user/repos?affiliation=owner&page=9>; rel="last"`,
  )
})

t.test('GET /user/orgs: every membership for a legacy token, installed orgs for a ghu_ token', async (t) => {
  const sim = await startSimulator(t, withScopes({ mona: ['read:org'] }))
  const { data } = await clientFor(sim.apiUrl, MONA).request('GET /user/orgs')
  t.same(data.map((o) => o.login), ['acme', 'widgets'])
  t.match(data[0], { id: 100, url: `${sim.apiUrl}/orgs/acme`, hooks_url: `${sim.apiUrl}/orgs/acme/hooks`, description: null })
  const { token } = sim.state.issueUserToken(1)
  const ghu = clientFor(sim.apiUrl, token)
  t.same((await ghu.request('GET /user/orgs')).data, [])
  const { installation } = sim.state.install(101, 'all', [])
  t.same((await ghu.request('GET /user/orgs')).data.map((o) => o.login), ['widgets'])
  installation.suspendedAt = new Date()
  t.same((await ghu.request('GET /user/orgs')).data, [])
})

t.test('GET /user/memberships/orgs/{org}: the user\'s role, only for their own orgs', async (t) => {
  const world = demoWorld()
  world.orgs!.push({ id: 102, login: 'closed', members: { mona: 'member' }, default_repository_permission: 'none' })
  const sim = await startSimulator(t, withScopes({ mona: ['read:org'] }, world))
  const mona = clientFor(sim.apiUrl, MONA)
  t.match((await mona.request('GET /user/memberships/orgs/{org}', { org: 'acme' })).data, {
    state: 'active',
    role: 'admin',
    url: `${sim.apiUrl}/orgs/acme/memberships/mona`,
    organization: { login: 'acme' },
    user: { login: 'mona' },
    permissions: { can_create_repository: true },
  })
  t.match((await mona.request('GET /user/memberships/orgs/{org}', { org: 'widgets' })).data, { role: 'member', permissions: { can_create_repository: true } })
  t.match((await mona.request('GET /user/memberships/orgs/{org}', { org: 'closed' })).data, { role: 'member', permissions: { can_create_repository: false } })
  for (const org of ['nowhere', 'octo']) {
    t.equal((await failure(mona.request('GET /user/memberships/orgs/{org}', { org }))).status, 404, org)
  }
  t.equal((await failure(clientFor(sim.apiUrl, 'gho_legacy_hubot_x').request('GET /user/memberships/orgs/{org}', { org: 'acme' }))).status, 401)
  const { token } = sim.state.issueUserToken(1)
  const ghu = clientFor(sim.apiUrl, token)
  t.equal((await failure(ghu.request('GET /user/memberships/orgs/{org}', { org: 'acme' }))).status, 404, 'the app is not installed on acme')
  sim.state.install(100, 'all', [])
  t.match((await ghu.request('GET /user/memberships/orgs/{org}', { org: 'acme' })).data, { role: 'admin' })
})
