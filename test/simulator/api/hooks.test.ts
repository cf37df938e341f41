import t from 'tap'
import type { World } from '../../../src/simulator/world.js'
import { failure } from '../../helpers/request-error.js'
import { appFor, clientFor, demoWorld, startSimulator } from '../../helpers/simulator.js'

const MONA = 'gho_legacy_mona_0001'
const OCTO = 'gho_legacy_octo_0003'

const LIST = 'GET /repos/{owner}/{repo}/hooks'
const GET = 'GET /repos/{owner}/{repo}/hooks/{hook_id}'
const DELETE = 'DELETE /repos/{owner}/{repo}/hooks/{hook_id}'

async function installationToken(sim: Awaited<ReturnType<typeof startSimulator>>, id: number, body: Record<string, unknown> = {}): Promise<string> {
  const { data } = await appFor(sim).octokit.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: id, ...body })
  return data.token
}

t.test('repository hooks with a legacy token: list, read, delete', async (t) => {
  const sim = await startSimulator(t)
  const mona = clientFor(sim.apiUrl, MONA)
  const { data } = await mona.request(LIST, { owner: 'mona', repo: 'site' })
  t.same(data.map((h) => h.id), [5001, 5002])
  t.match(data[0], {
    type: 'Repository',
    id: 5001,
    name: 'web',
    active: true,
    events: ['push'],
    config: { url: 'https://ci.example.com/hooks/github', content_type: 'json', insecure_ssl: '0' },
    url: `${sim.apiUrl}/repos/mona/site/hooks/5001`,
    test_url: `${sim.apiUrl}/repos/mona/site/hooks/5001/test`,
    ping_url: `${sim.apiUrl}/repos/mona/site/hooks/5001/pings`,
    deliveries_url: `${sim.apiUrl}/repos/mona/site/hooks/5001/deliveries`,
    last_response: { code: null, status: 'unused', message: null },
  })
  t.equal((await mona.request(GET, { owner: 'mona', repo: 'site', hook_id: 5002 })).data.config.url, 'https://chat.example.org/notify')
  t.equal((await mona.request(DELETE, { owner: 'mona', repo: 'site', hook_id: 5001 })).status, 204)
  t.equal((await failure(mona.request(GET, { owner: 'mona', repo: 'site', hook_id: 5001 }))).status, 404, 'gone')
  t.equal((await failure(mona.request(DELETE, { owner: 'mona', repo: 'site', hook_id: 5001 }))).status, 404, 'deleting twice')
  t.same((await mona.request(LIST, { owner: 'mona', repo: 'site' })).data.map((h) => h.id), [5002])
  t.equal((await failure(mona.request('GET /repos/mona/site/hooks/abc'))).status, 404)
  t.equal((await mona.request('GET /repositories/{repository_id}/hooks', { repository_id: 1001 } as never)).status, 200, 'by repository id too')
})

t.test('repository hooks: only admins, and only with a hook scope or repo', async (t) => {
  const world = demoWorld()
  world.users.push(
    { id: 4, login: 'reader', legacy_token: 'gho_reader', legacy_scopes: ['read:repo_hook'] },
    { id: 5, login: 'noscope', legacy_token: 'gho_noscope', legacy_scopes: [] },
  )
  world.repos.push({ id: 2000, owner: 'reader', name: 'pub', hooks: [{ id: 7000, url: 'https://x.example' }] })
  world.repos.push({ id: 2001, owner: 'noscope', name: 'pub', hooks: [{ id: 7001, url: 'https://x.example' }] })
  const sim = await startSimulator(t, world)
  const octo = clientFor(sim.apiUrl, OCTO)
  t.equal((await failure(octo.request(LIST, { owner: 'acme', repo: 'vault' }))).status, 404, 'a reader of the repo')
  t.equal((await octo.request(LIST, { owner: 'widgets', repo: 'core' })).status, 200, 'an org owner')
  const reader = clientFor(sim.apiUrl, 'gho_reader')
  t.equal((await reader.request(LIST, { owner: 'reader', repo: 'pub' })).status, 200, 'read:repo_hook reads')
  const refused = await failure(reader.request(DELETE, { owner: 'reader', repo: 'pub', hook_id: 7000 }))
  t.equal(refused.status, 404, 'but does not delete')
  t.equal(refused.response?.headers['x-accepted-oauth-scopes'], 'admin:repo_hook, repo')
  const noscope = await failure(clientFor(sim.apiUrl, 'gho_noscope').request(LIST, { owner: 'noscope', repo: 'pub' }))
  t.equal(noscope.status, 404)
  t.equal(noscope.response?.headers['x-accepted-oauth-scopes'], 'admin:repo_hook, read:repo_hook, repo, write:repo_hook')
  t.equal((await failure(clientFor(sim.apiUrl, undefined).request(LIST, { owner: 'mona', repo: 'dotfiles' }))).status, 401)
  t.equal((await failure(clientFor(sim.apiUrl, undefined).request(LIST, { owner: 'mona', repo: 'site' }))).status, 401)
})

t.test('repository hooks with an installation token: repository_hooks read to read, write to delete', async (t) => {
  const world = demoWorld()
  world.installations = [{ id: 7, account: 'acme', repository_selection: 'selected', repositories: [1100, 1101] }]
  world.repos.find((r) => r.id === 1101)!.archived = true
  const sim = await startSimulator(t, world)
  const full = clientFor(sim.apiUrl, await installationToken(sim, 7))
  t.same((await full.request(LIST, { owner: 'acme', repo: 'api' })).data.map((h) => h.id), [5100])
  const readOnly = clientFor(sim.apiUrl, await installationToken(sim, 7, { permissions: { repository_hooks: 'read' } }))
  t.equal((await readOnly.request(GET, { owner: 'acme', repo: 'api', hook_id: 5100 })).status, 200)
  t.match(await failure(readOnly.request(DELETE, { owner: 'acme', repo: 'api', hook_id: 5100 })), {
    status: 403,
    response: { data: { message: 'Resource not accessible by integration', documentation_url: /^https:\/\/docs\.github\.com/ } },
  })
  const none = clientFor(sim.apiUrl, await installationToken(sim, 7, { permissions: { metadata: 'read' } }))
  t.match(await failure(none.request(LIST, { owner: 'acme', repo: 'api' })), { status: 403 })
  t.match(await failure(full.request(LIST, { owner: 'acme', repo: 'vault' })), { status: 404 }, 'a private repo outside the installation')
  t.match(await failure(full.request(LIST, { owner: 'widgets', repo: 'core' })), { status: 403 }, 'a public repo outside the installation')
  t.match(await failure(full.request(DELETE, { owner: 'acme', repo: 'web', hook_id: 5101 })), { status: 403, message: /archived/ })
  t.equal((await full.request(DELETE, { owner: 'acme', repo: 'api', hook_id: 5100 })).status, 204)
  t.equal(sim.state.repos.get(1100)!.hooks.size, 0)
})

t.test('repository hooks with a ghu_ token: the user must be admin and the app installed with repository_hooks', async (t) => {
  const world = demoWorld()
  world.installations = [{ id: 7, account: 'acme', repository_selection: 'all' }]
  const sim = await startSimulator(t, world)
  const mona = clientFor(sim.apiUrl, sim.state.issueUserToken(1).token)
  t.same((await mona.request(LIST, { owner: 'acme', repo: 'api' })).data.map((h) => h.id), [5100])
  t.match(await failure(mona.request(LIST, { owner: 'mona', repo: 'dotfiles' })), { status: 403 }, 'not installed on mona')
  t.match(await failure(mona.request(LIST, { owner: 'mona', repo: 'site' })), { status: 404 }, 'not installed, private')
  const octo = clientFor(sim.apiUrl, sim.state.issueUserToken(3).token)
  t.match(await failure(octo.request(LIST, { owner: 'acme', repo: 'vault' })), { status: 404 }, 'octo only reads it')
  sim.state.installations.get(7)!.permissions = { metadata: 'read' }
  t.match(await failure(mona.request(DELETE, { owner: 'acme', repo: 'api', hook_id: 5100 })), { status: 403 })
})

t.test('a hook of a renamed repository is deleted through the redirect', async (t) => {
  const sim = await startSimulator(t)
  sim.state.renameRepo(sim.state.repos.get(1001)!, 'website')
  const mona = clientFor(sim.apiUrl, MONA)
  const res = await mona.request(DELETE, { owner: 'mona', repo: 'site', hook_id: 5001 })
  t.equal(res.status, 204)
  t.equal(res.url, `${sim.apiUrl}/repositories/1001/hooks/5001`)
  t.notOk(sim.state.repos.get(1001)!.hooks.has(5001))
})

function orgHookWorld(): World {
  const world = demoWorld()
  world.app.permissions['organization_hooks'] = 'write'
  world.orgs![0]!.hooks!.push({ id: 6001, url: 'https://chat.example.org/acme', created_by: 'user' }, { id: 6002, url: 'https://other.example', created_by: 'another-oauth-app' })
  world.users[2]!.legacy_scopes = ['repo', 'admin:org_hook']
  return world
}

t.test('organization hooks with a legacy token: admin:org_hook, owners only, and only the hooks this OAuth app created', async (t) => {
  const sim = await startSimulator(t, orgHookWorld())
  const mona = clientFor(sim.apiUrl, MONA)
  const { data } = await mona.request('GET /orgs/{org}/hooks', { org: 'acme' })
  t.same(data.map((h) => h.id), [6000])
  t.match(data[0], {
    id: 6000,
    type: 'Organization',
    name: 'web',
    url: `${sim.apiUrl}/orgs/acme/hooks/6000`,
    ping_url: `${sim.apiUrl}/orgs/acme/hooks/6000/pings`,
    deliveries_url: `${sim.apiUrl}/orgs/acme/hooks/6000/deliveries`,
    config: { url: 'https://ci.example.com/hooks/github', content_type: 'json', insecure_ssl: '0' },
  })
  t.equal((await mona.request('GET /orgs/{org}/hooks/{hook_id}', { org: 'acme', hook_id: 6000 })).data.id, 6000)
  t.equal((await failure(mona.request('GET /orgs/{org}/hooks/{hook_id}', { org: 'acme', hook_id: 6001 }))).status, 404, 'made by hand')
  t.equal((await failure(mona.request('DELETE /orgs/{org}/hooks/{hook_id}', { org: 'acme', hook_id: 6002 }))).status, 404, 'made by another OAuth app')
  t.equal((await failure(mona.request('GET /orgs/{org}/hooks/{hook_id}', { org: 'acme', hook_id: 4242 }))).status, 404)
  const octo = clientFor(sim.apiUrl, OCTO)
  t.equal((await failure(octo.request('GET /orgs/{org}/hooks', { org: 'acme' }))).status, 404, 'a member, not an owner')
  t.equal((await octo.request('GET /orgs/{org}/hooks', { org: 'widgets' })).status, 200, 'an owner')
  t.equal((await failure(mona.request('GET /orgs/{org}/hooks', { org: 'mona' }))).status, 404, 'a user account is no org')
  t.equal((await failure(mona.request('GET /orgs/{org}/hooks', { org: 'nobody' }))).status, 404)
  t.equal((await failure(clientFor(sim.apiUrl, undefined).request('GET /orgs/{org}/hooks', { org: 'acme' }))).status, 401)
  t.equal((await mona.request('DELETE /orgs/{org}/hooks/{hook_id}', { org: 'acme', hook_id: 6000 })).status, 204)
  t.same([...sim.state.orgs.get(100)!.hooks.keys()], [6001, 6002])
})

t.test('organization hooks without admin:org_hook, or by a stranger', async (t) => {
  const world = demoWorld()
  world.users.push({ id: 4, login: 'stranger', legacy_token: 'gho_stranger', legacy_scopes: ['admin:org_hook'] })
  const sim = await startSimulator(t, world)
  const octo = await failure(clientFor(sim.apiUrl, OCTO).request('GET /orgs/{org}/hooks', { org: 'widgets' }))
  t.equal(octo.status, 404, 'an owner without the scope')
  t.equal(octo.response?.headers['x-accepted-oauth-scopes'], 'admin:org_hook')
  t.equal((await failure(clientFor(sim.apiUrl, 'gho_stranger').request('GET /orgs/{org}/hooks', { org: 'acme' }))).status, 404)
})

t.test('organization hooks with app credentials: organization_hooks, and never an OAuth app hook', async (t) => {
  const world = orgHookWorld()
  world.installations = [
    { id: 7, account: 'acme', repository_selection: 'all' },
    { id: 8, account: 'mona', repository_selection: 'all' },
  ]
  const sim = await startSimulator(t, world)
  const inst = clientFor(sim.apiUrl, await installationToken(sim, 7))
  t.same((await inst.request('GET /orgs/{org}/hooks', { org: 'acme' })).data.map((h) => h.id), [6001])
  t.equal((await failure(inst.request('GET /orgs/{org}/hooks/{hook_id}', { org: 'acme', hook_id: 6000 }))).status, 404)
  t.equal((await failure(inst.request('GET /orgs/{org}/hooks', { org: 'widgets' }))).status, 403, 'another account')
  const reader = clientFor(sim.apiUrl, await installationToken(sim, 7, { permissions: { organization_hooks: 'read' } }))
  t.equal((await reader.request('GET /orgs/{org}/hooks/{hook_id}', { org: 'acme', hook_id: 6001 })).status, 200)
  t.equal((await failure(reader.request('DELETE /orgs/{org}/hooks/{hook_id}', { org: 'acme', hook_id: 6001 }))).status, 403)
  t.equal((await inst.request('DELETE /orgs/{org}/hooks/{hook_id}', { org: 'acme', hook_id: 6001 })).status, 204)

  const mona = clientFor(sim.apiUrl, sim.state.issueUserToken(1).token)
  t.same((await mona.request('GET /orgs/{org}/hooks', { org: 'acme' })).data.map((h) => h.id), [], 'ghu_: only hooks made by hand, and that one is gone')
  t.equal((await failure(mona.request('GET /orgs/{org}/hooks', { org: 'widgets' }))).status, 403, 'ghu_: the app is not installed there')
  const hubot = clientFor(sim.apiUrl, sim.state.issueUserToken(2).token)
  t.equal((await failure(hubot.request('GET /orgs/{org}/hooks', { org: 'acme' }))).status, 404, 'ghu_: a member, not an owner')
  const stranger = clientFor(sim.apiUrl, await installationToken(sim, 8))
  t.equal((await failure(stranger.request('GET /orgs/{org}/hooks', { org: 'acme' }))).status, 403)
})

t.test('a fault that loses the answer: GitHub does the work, the client sees only the status', async (t) => {
  const sim = await startSimulator(t)
  const mona = clientFor(sim.apiUrl, MONA, { request: { retries: 0 } })
  await sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors: [{ pattern: DELETE, status: 599, rate: 1, lost: true }] } })
  const lost = await failure(mona.request(DELETE, { owner: 'mona', repo: 'site', hook_id: 5001 }))
  t.equal(lost.status, 599)
  t.match(lost.response?.data, { message: 'Error', status: '599' }, 'a status without a name is an "Error"')
  t.notOk(sim.state.repos.get(1001)!.hooks.has(5001), 'deleted all the same')
})

t.test('a fault with retry-after: refused as a secondary rate limit, not carried out', async (t) => {
  const sim = await startSimulator(t)
  const mona = clientFor(sim.apiUrl, MONA, { request: { retries: 0 } })
  await sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors: [{ pattern: DELETE, status: 429, rate: 1, retryAfter: 3 }] } })
  const refused = await failure(mona.request(DELETE, { owner: 'mona', repo: 'site', hook_id: 5001 }))
  t.equal(refused.status, 429)
  t.equal(refused.response?.headers['retry-after'], '3')
  t.match(refused.response?.data, { message: /secondary rate limit/ })
  t.ok(sim.state.repos.get(1001)!.hooks.has(5001), 'the hook is still there')
})
