import t from 'tap'
import type { World } from '../../../src/simulator/world.js'
import { failure } from '../../helpers/request-error.js'
import { appFor, clientFor, demoWorld, startSimulator } from '../../helpers/simulator.js'
import { withScopes } from '../../helpers/scoped-world.js'

const MONA = 'gho_legacy_mona_0001'
const OCTO = 'gho_legacy_octo_0003'

t.test('GET /orgs/{org}/members: every member as a simple user, by id, filtered by role', async (t) => {
  const sim = await startSimulator(t, withScopes({ mona: ['read:org'], octo: ['read:org'] }))
  const client = clientFor(sim.apiUrl, OCTO)
  const logins = async (query: Record<string, string> = {}) => (await client.request('GET /orgs/{org}/members', { org: 'acme', ...query })).data.map((u) => u.login)
  t.same(await logins(), ['mona', 'hubot', 'octo'], 'a plain member sees every member')
  t.same(await logins({ role: 'all' }), ['mona', 'hubot', 'octo'])
  t.same(await logins({ role: 'admin' }), ['mona'])
  t.same(await logins({ role: 'member' }), ['hubot', 'octo'])
  t.same(await logins({ role: 'bogus' }), ['mona', 'hubot', 'octo'], 'an unknown role falls back to all')
  t.same(await logins({ filter: '2fa_disabled' }), ['mona', 'hubot', 'octo'], 'filter is ignored')
  const { data } = await client.request('GET /orgs/{org}/members', { org: 'ACME', role: 'admin' })
  t.match(data[0], { login: 'mona', id: 1, type: 'User', url: `${sim.apiUrl}/users/mona`, user_view_type: 'public', site_admin: false })
  t.same((await clientFor(sim.apiUrl, MONA).request('GET /orgs/{org}/members', { org: 'widgets', role: 'admin' })).data.map((u) => u.login), ['octo'])
})

t.test('GET /orgs/{org}/members pages through 75 members with octokit.paginate', async (t) => {
  const world: World = demoWorld()
  const acme = world.orgs!.find((o) => o.login === 'acme')!
  for (let i = 0; i < 72; i++) {
    world.users.push({ id: 30000 + i, login: `m${String(i).padStart(2, '0')}`, legacy_token: null, legacy_scopes: [] })
    acme.members[`m${String(i).padStart(2, '0')}`] = i % 10 === 0 ? 'admin' : 'member'
  }
  const sim = await startSimulator(t, withScopes({ mona: ['admin:org'] }, world))
  const client = clientFor(sim.apiUrl, MONA)
  const all = await client.paginate('GET /orgs/{org}/members', { org: 'acme', per_page: 20 })
  t.equal(all.length, 75)
  t.equal(new Set(all.map((u) => u.id)).size, 75, 'no member twice')
  t.same(all.slice(0, 4).map((u) => u.login), ['mona', 'hubot', 'octo', 'm00'])
  t.equal((await client.paginate('GET /orgs/{org}/members', { org: 'acme', role: 'admin', per_page: 2 })).length, 9)
  const first = await client.request('GET /orgs/{org}/members', { org: 'acme', role: 'member' })
  t.equal(first.data.length, 30, '30 a page by default')
  t.equal(
    first.headers.link,
    `<${sim.apiUrl}/orgs/acme/members?role=member&page=2>; rel="next", <${sim.apiUrl}/orgs/acme/members?role=member&page=3>; rel="last"`,
  )
})

t.test('GET /orgs/{org}/members: 404 for a non-member, an unknown org or a user', async (t) => {
  const world = demoWorld()
  world.orgs!.push({ id: 102, login: 'solo', members: { octo: 'admin' } })
  const sim = await startSimulator(t, withScopes({ mona: ['read:org'], octo: ['write:org'] }, world))
  const mona = clientFor(sim.apiUrl, MONA)
  for (const org of ['solo', 'nowhere', 'octo']) {
    t.match(await failure(mona.request('GET /orgs/{org}/members', { org })), { status: 404, message: /Not Found/ }, org)
  }
  t.same((await clientFor(sim.apiUrl, OCTO).request('GET /orgs/{org}/members', { org: 'solo' })).data.map((u) => u.login), ['octo'])
})

t.test('GET /orgs/{org}/members: legacy scopes, no token, an installation token, a ghu_ token', async (t) => {
  const world = demoWorld()
  world.users[0]!.legacy_scopes = ['admin:repo_hook']
  world.users[2]!.legacy_scopes = ['read:org']
  const sim = await startSimulator(t, world)
  const refused = await failure(clientFor(sim.apiUrl, MONA).request('GET /orgs/{org}/members', { org: 'acme' }))
  t.match(refused, { status: 404, response: { headers: { 'x-accepted-oauth-scopes': 'admin:org, read:org, write:org' } } }, 'without an org scope')
  t.equal((await clientFor(sim.apiUrl, OCTO).request('GET /orgs/{org}/members', { org: 'acme' })).data.length, 3, 'read:org is enough')
  t.match(await failure(clientFor(sim.apiUrl, undefined).request('GET /orgs/{org}/members', { org: 'acme' })), { status: 401, message: /Requires authentication/ })
  const { installation } = sim.state.install(100, 'all', [])
  const inst = await appFor(sim).getInstallationOctokit(installation.id)
  t.match(await failure(inst.request('GET /orgs/{org}/members', { org: 'acme' })), { status: 403, message: /Resource not accessible by integration/ })

  const { token } = sim.state.issueUserToken(3)
  const ghu = clientFor(sim.apiUrl, token)
  t.equal((await ghu.request('GET /orgs/{org}/members', { org: 'acme' })).data.length, 3, 'the app is installed on acme')
  t.equal((await failure(ghu.request('GET /orgs/{org}/members', { org: 'widgets' }))).status, 404, 'but not on widgets')
  installation.suspendedAt = new Date()
  t.equal((await failure(ghu.request('GET /orgs/{org}/members', { org: 'acme' }))).status, 404, 'a suspended installation reaches nothing')
})
