import t, { type Test } from 'tap'
import { buildSimulator } from '../../src/simulator/server.js'
import type { SimEvent } from '../../src/simulator/state.js'
import type { World } from '../../src/simulator/world.js'
import { rsaKeyPair } from '../helpers/keys.js'
import { demoWorld, startSimulator } from '../helpers/simulator.js'
import { Browser, query } from './web/browser.js'
import { receiver, verified } from './webhook-receiver.js'

const PERMISSIONS = '/apps/acme-ci/installations/new/permissions'

async function simulator(t: Test, world: World = demoWorld(), privateKey?: string) {
  const sim = await buildSimulator({ world, logLevel: 'silent', privateKey })
  t.teardown(() => sim.app.close())
  const events: SimEvent[] = []
  sim.state.onEvent = (event) => events.push(event)
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
    const res = await sim.app.inject({ method, url: `/_sim${url}`, ...(body === undefined ? {} : { payload: body as Record<string, unknown> }) })
    // Every control answers JSON; `any` keeps the assertions short.
    return { status: res.statusCode, body: res.json() as Record<string, any> }
  }
  return { ...sim, events, call, b: new Browser(sim.app) }
}

/** A pending request by a member, through the install page. */
async function requestAs(b: Browser, login: string, form: Record<string, string | string[]>): Promise<void> {
  await b.signIn(login)
  await b.get(`${PERMISSIONS}?suggested_target_id=100`)
  const res = await b.post(PERMISSIONS, { target_id: '100', ...form })
  if (query(res.location).get('setup_action') !== 'request') throw new Error(`no request: ${res.status}`)
}

t.test('GET /_sim/state shows the world and what happened, never a token', async (t) => {
  const { call, state } = await simulator(t)
  const issued = state.issueUserToken(1)
  state.apiLog.push({ at: new Date(), method: 'GET', path: '/user', tokenKind: 'user', actor: 'mona', status: 200 })
  const { status, body } = await call('GET', '/state')
  t.equal(status, 200)
  t.match(body, {
    app: { id: 9001, slug: 'acme-ci', clientId: 'Iv1.simacmeci', webhookUrl: 'http://localhost:3000/github/webhooks' },
    users: [{ login: 'mona', hasLegacyToken: true }, { login: 'hubot', hasLegacyToken: false }, { login: 'octo', hasLegacyToken: true }],
    orgs: [{ login: 'acme', members: { mona: 'admin', hubot: 'member' }, hooks: [{ id: 6000, createdBy: 'legacy-oauth-client' }] }, { login: 'widgets' }],
    repos: [{ id: 1000, fullName: 'mona/dotfiles', owner: 'mona', deleted: false, hooks: [{ id: 5000, events: ['push', 'pull_request'], active: true }] }],
    installations: [],
    requests: [],
    tokens: { legacy: 2, user: 1, installation: 0 },
    legacyTokensMayAddRepos: true,
    faults: { latencyMs: 0, errors: [], installationTokenLag: false },
    limits: { hourlyQuota: 5000 },
    deliveries: [],
    pendingDeliveries: 0,
    apiLog: [{ method: 'GET', path: '/user', tokenKind: 'user', actor: 'mona', status: 200 }],
  })
  const text = JSON.stringify(body)
  for (const secret of ['gho_legacy_mona_0001', issued.token, issued.refreshToken, 'sim-client-secret', 'sim-webhook-secret']) t.notMatch(text, secret)
  const world = demoWorld()
  for (const key of ['name', 'callback_url', 'setup_url', 'webhook_url'] as const) delete world.app[key]
  const bare = await simulator(t, world)
  t.match((await bare.call('GET', '/state')).body, { app: { name: null, callbackUrl: null, setupUrl: null, webhookUrl: null } })
})

t.test('faults, limits and settings: set, merged, validated', async (t) => {
  const { call, state } = await simulator(t)
  const faults = await call('PUT', '/faults', { latencyMs: 25, errors: [{ pattern: 'GET /installation/repositories', status: 502, rate: 0.5 }, { method: 'DELETE', pattern: '/repos/{owner}/{repo}/hooks/{hook_id}', status: 500, rate: 1 }] })
  t.equal(faults.status, 200)
  t.same(faults.body, {
    latencyMs: 25,
    errors: [
      { pattern: 'GET /installation/repositories', status: 502, rate: 0.5, method: '*' },
      { method: 'DELETE', pattern: '/repos/{owner}/{repo}/hooks/{hook_id}', status: 500, rate: 1 },
    ],
    installationTokenLag: false,
  })
  t.same(state.faults, faults.body)
  t.match((await call('PUT', '/faults', { installationTokenLag: true })).body, { latencyMs: 25, errors: [{}, {}], installationTokenLag: true }, 'a partial update keeps the rest')
  t.same((await call('PUT', '/faults', { errors: [] })).body.errors, [])
  for (const bad of [{ latency: 5 }, { latencyMs: -1 }, { errors: [{ pattern: '/x', status: 200, rate: 1 }] }, { errors: [{ pattern: '/x', status: 500, rate: 2 }] }, { errors: [{ pattern: '/x', status: 500 }] }, { errors: [{ method: 'get me', pattern: '/x', status: 500, rate: 1 }] }]) {
    const res = await call('PUT', '/faults', bad)
    t.equal(res.status, 400, JSON.stringify(bad))
    t.type(res.body.message, 'string')
  }
  t.match((await call('PUT', '/faults', { latency: 5 })).body.message, /additional properties/)
  t.same(state.faults.latencyMs, 25, 'a refused update changes nothing')

  t.same((await call('PUT', '/limits', { hourlyQuota: 0, writesPerMinute: 3 })).body, { hourlyQuota: 0, concurrentPerToken: 100, writesPerMinute: 3 })
  t.equal(state.limits.hourlyQuota, 0, 'quota exhausted for every token')
  t.equal((await call('PUT', '/limits', { concurrentPerToken: 0 })).status, 400)
  t.equal((await call('PUT', '/limits', { hourlyQuota: 'lots' })).status, 400)

  t.same((await call('PUT', '/settings', { legacyTokensMayAddRepos: false })).body, { legacyTokensMayAddRepos: false })
  t.equal(state.legacyTokensMayAddRepos, false)
  t.same((await call('PUT', '/settings', {})).body, { legacyTokensMayAddRepos: false })
  t.equal((await call('PUT', '/settings', { legacyTokensMayAddRepos: 'yes' })).status, 400)
})

t.test("revoking a user's legacy token", async (t) => {
  const { call, state } = await simulator(t)
  t.same((await call('POST', '/users/MONA/revoke-legacy-token')).body, { login: 'mona', hadToken: true })
  t.equal(state.tokens.has('gho_legacy_mona_0001'), false)
  t.equal(state.users.get(1)!.legacyToken, null)
  t.same((await call('POST', '/users/mona/revoke-legacy-token')).body, { login: 'mona', hadToken: false })
  const unknown = await call('POST', '/users/nobody/revoke-legacy-token')
  t.equal(unknown.status, 404)
  t.same(unknown.body, { message: 'No user has the login "nobody".' })
  t.equal((await call('POST', '/users/acme/revoke-legacy-token')).status, 404, 'an org has no token')
})

t.test('renaming, transferring and deleting repositories', async (t) => {
  const { call, state } = await simulator(t)
  t.same((await call('POST', '/repos/1000/rename', { name: 'dots' })).body, { id: 1000, fullName: 'mona/dots', formerNames: ['mona/dotfiles'] })
  t.equal(state.redirectFor('mona', 'dotfiles')!.id, 1000)
  t.equal((await call('POST', '/repos/1000/rename', { name: 'dots' })).status, 200, 'its own name is no conflict')
  t.same((await call('POST', '/repos/1000/rename', { name: 'site' })), { status: 409, body: { message: 'mona/site already exists.' } })
  t.equal((await call('POST', '/repos/1000/rename', { name: 'a/b' })).status, 400)
  t.equal((await call('POST', '/repos/1000/rename', {})).status, 400)
  t.equal((await call('POST', '/repos/abc/rename', { name: 'x' })).status, 400)
  t.same((await call('POST', '/repos/4242/rename', { name: 'x' })), { status: 404, body: { message: 'No repository has the id 4242.' } })

  t.match((await call('POST', '/repos/1000/transfer', { owner: 'acme' })).body, { id: 1000, fullName: 'acme/dots' })
  t.equal(state.liveRepo(1000)!.ownerId, 100)
  t.same((await call('POST', '/repos/1000/transfer', { owner: 'ACME' })), { status: 422, body: { message: 'acme/dots already belongs to acme.' } })
  t.same((await call('POST', '/repos/1000/transfer', { owner: 'ghost' })), { status: 404, body: { message: 'No user or org has the login "ghost".' } })
  await call('POST', '/repos/1001/rename', { name: 'api' })
  t.same((await call('POST', '/repos/1001/transfer', { owner: 'acme' })), { status: 409, body: { message: 'acme/api already exists.' } })
  t.equal((await call('POST', '/repos/4242/transfer', { owner: 'acme' })).status, 404)
  t.equal((await call('POST', '/repos/1001/transfer', {})).status, 400)

  t.same((await call('DELETE', '/repos/1001')).body, { id: 1001, deleted: 'mona/api' })
  t.equal(state.liveRepo(1001), undefined)
  t.equal((await call('DELETE', '/repos/1001')).status, 404, 'gone')
  t.equal((await call('POST', '/repos/1001/rename', { name: 'back' })).status, 404)
  t.match((await call('GET', '/state')).body.repos, [{}, { id: 1001, fullName: null, deleted: true, formerNames: ['mona/site', 'mona/api'] }])
})

t.test('hand-made hooks on a repo (by id or name) or an org', async (t) => {
  const { call, state } = await simulator(t)
  const byId = await call('POST', '/hooks', { repo: 1001, url: 'https://chat.example.org/x' })
  t.equal(byId.status, 201)
  t.match(byId.body, { id: Number, url: 'https://chat.example.org/x', events: ['push'], active: true, createdBy: 'user' })
  t.ok(state.liveRepo(1001)!.hooks.has(byId.body.id))
  t.ok(byId.body.id > 6000, 'a fresh id')
  const byName = await call('POST', '/hooks', { repo: 'acme/API', url: 'https://ci.example.com/hooks/github', events: ['push', 'pull_request'], active: false, createdBy: 'legacy-oauth-client' })
  t.match(byName.body, { events: ['push', 'pull_request'], active: false, createdBy: 'legacy-oauth-client' })
  t.ok(state.liveRepo(1100)!.hooks.has(byName.body.id))
  const org = await call('POST', '/hooks', { org: 'widgets', url: 'https://ci.example.com/hooks/github' })
  t.equal(org.status, 201)
  t.match(state.hookById(org.body.id), { kind: 'org', parentId: 101 })
  const problems: [unknown, number, RegExp][] = [
    [{ url: 'https://x' }, 422, /either a repo/],
    [{ repo: 1000, org: 'acme', url: 'https://x' }, 422, /either a repo/],
    [{ repo: 4242, url: 'https://x' }, 404, /No repository is 4242/],
    [{ repo: 'mona/nothing', url: 'https://x' }, 404, /No repository is mona\/nothing/],
    [{ org: 'mona', url: 'https://x' }, 404, /No org has the login "mona"/],
    [{ org: 'nobody', url: 'https://x' }, 404, /No org/],
    [{ repo: 1000 }, 400, /url/],
    [{ repo: 'no-slash', url: 'https://x' }, 400, /repo/],
  ]
  for (const [body, status, message] of problems) {
    const res = await call('POST', '/hooks', body)
    t.equal(res.status, status, JSON.stringify(body))
    t.match(res.body.message, message)
  }
})

t.test('approving a pending request as an org owner installs the app, with the requester in the event', async (t) => {
  const { call, b, state, events } = await simulator(t)
  await requestAs(b, 'hubot', { repository_selection: 'selected', repository_ids: ['1101'] })
  const [request] = [...state.requests.values()]
  t.match((await call('GET', '/state')).body.requests, [{ id: request!.id, account: 'acme', requester: 'hubot', repositorySelection: 'selected', repositories: [1101] }])
  t.same((await call('POST', `/requests/${request!.id}/approve`, { approver: 'octo' })), { status: 403, body: { message: 'octo is not an owner of acme.' } })
  t.equal((await call('POST', `/requests/${request!.id}/approve`, { approver: 'ghost' })).status, 404)
  t.equal((await call('POST', `/requests/${request!.id}/approve`, {})).status, 400)
  t.same((await call('POST', '/requests/4242/approve', { approver: 'mona' })), { status: 404, body: { message: 'No pending installation request has the id 4242.' } })
  t.same(events, [])
  const approved = await call('POST', `/requests/${request!.id}/approve`, { approver: 'mona' })
  t.equal(approved.status, 200)
  t.match(approved.body, { action: 'install', installation: { account: 'acme', repositorySelection: 'selected', repositories: [{ id: 1101, fullName: 'acme/web' }], suspendedAt: null, suspendedBy: null } })
  t.equal(state.requests.size, 0)
  t.match(events, [{ name: 'installation', action: 'created', sender: { login: 'mona' }, requester: { login: 'hubot' } }])

  // A second request adds to the installation; it never takes repositories away.
  events.length = 0
  await requestAs(b, 'octo', { repository_selection: 'selected', repository_ids: ['1102'] })
  const [second] = [...state.requests.values()]
  t.match((await call('POST', `/requests/${second!.id}/approve`, { approver: 'mona' })).body, { action: 'update' })
  t.same([...state.installationOn(100)!.repositoryIds].sort(), [1101, 1102])
  t.match(events, [{ name: 'installation_repositories', action: 'added', added: [{ id: 1102 }], removed: [], requester: { login: 'octo' } }])

  events.length = 0
  await requestAs(b, 'hubot', { repository_selection: 'all' })
  await call('POST', `/requests/${[...state.requests.keys()][0]}/approve`, { approver: 'mona' })
  t.equal(state.installationOn(100)!.repositorySelection, 'all')
  t.match(events, [{ action: 'added', added: [{ id: 1100 }] }])
  events.length = 0
  await requestAs(b, 'hubot', { repository_selection: 'selected', repository_ids: ['1100'] })
  await call('POST', `/requests/${[...state.requests.keys()][0]}/approve`, { approver: 'mona' })
  t.equal(state.installationOn(100)!.repositorySelection, 'all', 'a request for some repos keeps "all"')
  t.same(events, [])

  await requestAs(b, 'hubot', { repository_selection: 'all' })
  const denied = [...state.requests.keys()][0]!
  t.same((await call('DELETE', `/requests/${denied}`)).body, { denied })
  t.equal((await call('DELETE', `/requests/${denied}`)).status, 404)
})

t.test('uninstall, suspend and unsuspend, with the acting user', async (t) => {
  const world = demoWorld()
  world.installations = [
    { id: 7000, account: 'acme', repository_selection: 'all' },
    { id: 7001, account: 'octo', repository_selection: 'all' },
    { id: 7002, account: 'widgets', repository_selection: 'selected', repositories: [1200] },
  ]
  world.orgs![1]!.members = { octo: 'member', mona: 'member' }
  const { app, call, state, events } = await simulator(t, world)
  const suspended = await call('POST', '/installations/7000/suspend')
  t.match(suspended.body, { id: 7000, suspendedAt: String, suspendedBy: 'mona' }, "an org's first owner acts by default")
  t.match(state.installations.get(7000), { suspendedBy: 1 })
  t.same((await call('POST', '/installations/7000/suspend')), { status: 409, body: { message: 'Installation 7000 is already suspended.' } })
  t.match((await call('POST', '/installations/7000/unsuspend', { sender: 'mona' })).body, { suspendedAt: null, suspendedBy: null })
  t.same((await call('POST', '/installations/7000/unsuspend')), { status: 409, body: { message: 'Installation 7000 is not suspended.' } })
  t.match((await call('POST', '/installations/7001/suspend')).body, { suspendedBy: 'octo' }, 'a user account acts for itself')
  t.same((await call('POST', '/installations/7002/suspend')), { status: 422, body: { message: 'widgets has no owner to act; name a sender.' } })
  t.equal((await call('POST', '/installations/7002/suspend', { sender: 'ghost' })).status, 404)
  t.equal((await call('POST', '/installations/7002/suspend', { sender: 5 })).status, 400)
  t.equal((await call('POST', '/installations/7002/suspend', { sender: 'octo', extra: 1 })).status, 400)
  const notAnObject = await app.inject({ method: 'POST', url: '/_sim/installations/7002/suspend', headers: { 'content-type': 'application/json' }, payload: '"octo"' })
  t.equal(notAnObject.statusCode, 400)
  t.equal((await call('POST', '/installations/4242/suspend')).status, 404)
  t.match(events, [
    { name: 'installation', action: 'suspend', sender: { login: 'mona' } },
    { name: 'installation', action: 'unsuspend', sender: { login: 'mona' } },
    { name: 'installation', action: 'suspend', sender: { login: 'octo' } },
  ])
  events.length = 0
  t.same((await call('DELETE', '/installations/7002', { sender: 'octo' })).body, { deleted: 7002 })
  t.same((await call('DELETE', '/installations/7000')).body, { deleted: 7000 })
  t.equal(state.installations.size, 1)
  t.equal(state.installationOn(100), undefined)
  t.same((await call('DELETE', '/installations/7000')), { status: 404, body: { message: 'No installation has the id 7000.' } })
  t.equal((await call('DELETE', '/installations/7001', { sender: 'ghost' })).status, 404)
  t.match(events, [
    { name: 'installation', action: 'deleted', installation: { id: 7002 }, sender: { login: 'octo' } },
    { name: 'installation', action: 'deleted', installation: { id: 7000 }, sender: { login: 'mona' } },
  ])
})

t.test('GET /_sim/app-key hands out a generated key only', async (t) => {
  const generated = await simulator(t)
  const res = await generated.app.inject({ url: '/_sim/app-key' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], 'application/x-pem-file')
  t.equal(res.body, generated.keys.privateKey)
  t.match(res.body, new RegExp(`^-----BEGIN RSA ${'PRIVATE'} KEY-----`))
  const fromFile = await simulator(t, demoWorld(), rsaKeyPair().privateKey)
  const refused = await fromFile.call('GET', '/app-key')
  t.equal(refused.status, 404)
  t.match(refused.body, { message: /private key file/ })
})

t.test('approval, uninstall and suspension reach the webhook URL, signed, with GitHub payloads', async (t) => {
  const hook = await receiver(t)
  const world = demoWorld()
  world.app.webhook_url = hook.url
  const { url, sim, state } = await startSimulator(t, world)
  const b = new Browser(sim.app)
  await requestAs(b, 'hubot', { repository_selection: 'selected', repository_ids: ['1100', '1101'] })
  const post = (path: string, body: unknown = {}) =>
    fetch(`${url}/_sim${path}`, { method: path.startsWith('DELETE ') ? 'DELETE' : 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const [request] = [...state.requests.values()]
  const approved = (await (await post(`/requests/${request!.id}/approve`, { approver: 'mona' })).json()) as { installation: { id: number } }
  const id = approved.installation.id
  await requestAs(b, 'octo', { repository_selection: 'selected', repository_ids: ['1102'] })
  const [more] = [...state.requests.values()]
  await post(`/requests/${more!.id}/approve`, { approver: 'mona' })
  await post(`/installations/${id}/suspend`)
  await post(`/installations/${id}/unsuspend`)
  await fetch(`${url}/_sim/installations/${id}`, { method: 'DELETE' })
  await (await fetch(`${url}/_sim/deliveries/flush`, { method: 'POST' })).json()
  const payloads = await Promise.all(hook.received.map(verified))
  t.same(hook.received.map((r) => `${String(r.headers['x-github-event'])}.${String((JSON.parse(r.body) as { action: string }).action)}`), [
    'installation.created',
    'installation_repositories.added',
    'installation.suspend',
    'installation.unsuspend',
    'installation.deleted',
  ])
  t.match(payloads[0], {
    installation: { id, account: { login: 'acme', type: 'Organization' }, repository_selection: 'selected' },
    repositories: [{ id: 1100, full_name: 'acme/api' }, { id: 1101, full_name: 'acme/web' }],
    requester: { login: 'hubot', id: 2 },
    sender: { login: 'mona' },
  })
  t.match(payloads[1], {
    installation: { id, repository_selection: 'selected' },
    repository_selection: 'selected',
    repositories_added: [{ id: 1102, full_name: 'acme/vault', private: true }],
    repositories_removed: [],
    requester: { login: 'octo' },
    sender: { login: 'mona' },
  })
  t.match(payloads[2], { installation: { suspended_by: { login: 'mona' }, suspended_at: String }, requester: null })
  t.match(payloads[3], { installation: { suspended_by: null, suspended_at: null } })
  t.match(payloads[4], { installation: { id }, repositories: [{ id: 1100 }, { id: 1101 }, { id: 1102 }], sender: { login: 'mona' } })
  t.same(state.deliveries.map((d) => d.status), [202, 202, 202, 202, 202])
})
