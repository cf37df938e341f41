import t from 'tap'
import { failure } from '../../helpers/request-error.js'
import { appFor, clientFor, demoWorld, startSimulator } from '../../helpers/simulator.js'

const MONA = 'gho_legacy_mona_0001'

function installedWorld() {
  const world = demoWorld()
  world.installations = [
    { id: 7, account: 'acme', repository_selection: 'selected', repositories: [1100, 1101] },
    { id: 8, account: 'mona', repository_selection: 'all' },
    { id: 9, account: 'widgets', repository_selection: 'all', suspended: true },
  ]
  return world
}

t.test('GET /app answers the app as GitHub describes an integration', async (t) => {
  const sim = await startSimulator(t, installedWorld())
  const { data } = await appFor(sim).octokit.request('GET /app')
  t.match(data, {
    id: 9001,
    slug: 'acme-ci',
    client_id: 'Iv1.simacmeci',
    name: 'Acme CI',
    html_url: `${sim.url}/apps/acme-ci`,
    external_url: 'http://localhost:3000',
    permissions: { metadata: 'read', contents: 'read', repository_hooks: 'write' },
    installations_count: 3,
    owner: { login: 'acme-ci', type: 'Organization' },
  })
})

t.test('GET /app without a setup URL or a name', async (t) => {
  const world = demoWorld()
  delete world.app.setup_url
  delete world.app.name
  const sim = await startSimulator(t, world)
  t.match((await appFor(sim).octokit.request('GET /app')).data, { name: 'acme-ci', external_url: sim.url })
})

t.test('GET /app/installations and /app/installations/{id}', async (t) => {
  const sim = await startSimulator(t, installedWorld())
  const app = appFor(sim).octokit
  const all = await app.paginate('GET /app/installations', { per_page: 2 })
  t.same(all.map((i) => [i.id, i.account?.login, i.repository_selection]), [
    [7, 'acme', 'selected'],
    [8, 'mona', 'all'],
    [9, 'widgets', 'all'],
  ])
  t.match((await app.request('GET /app/installations/{installation_id}', { installation_id: 9 })).data, { id: 9, suspended_at: /Z$/, suspended_by: null })
  sim.state.installations.get(9)!.suspendedBy = 3
  t.match((await app.request('GET /app/installations/{installation_id}', { installation_id: 9 })).data, { suspended_by: { login: 'octo', type: 'User' } })
  t.equal((await failure(app.request('GET /app/installations/{installation_id}', { installation_id: 99 }))).status, 404)
})

t.test('the app endpoints take the JWT only', async (t) => {
  const sim = await startSimulator(t, installedWorld())
  const inst = await appFor(sim).getInstallationOctokit(7)
  const { token } = (await inst.auth({ type: 'installation' })) as { token: string }
  for (const [name, client] of [
    ['installation token', clientFor(sim.apiUrl, token)],
    ['legacy token', clientFor(sim.apiUrl, MONA)],
    ['no token', clientFor(sim.apiUrl, undefined)],
  ] as const) {
    t.match(await failure(client.request('GET /app/installations')), { status: 401, message: /A JSON web token could not be decoded/ }, name)
  }
})

t.test('the installation of an org, a user, a repository', async (t) => {
  const sim = await startSimulator(t, installedWorld())
  const app = appFor(sim).octokit
  t.equal((await app.request('GET /orgs/{org}/installation', { org: 'ACME' })).data.id, 7, 'logins are case-insensitive')
  t.equal((await app.request('GET /users/{username}/installation', { username: 'mona' })).data.id, 8)
  t.equal((await app.request('GET /users/{username}/installation', { username: 'widgets' })).data.id, 9)
  t.equal((await app.request('GET /repos/{owner}/{repo}/installation', { owner: 'acme', repo: 'api' })).data.id, 7)
  t.equal((await failure(app.request('GET /repos/{owner}/{repo}/installation', { owner: 'acme', repo: 'vault' }))).status, 404, 'a repo the installation does not cover')
  t.equal((await failure(app.request('GET /repos/{owner}/{repo}/installation', { owner: 'acme', repo: 'nope' }))).status, 404)
  t.equal((await failure(app.request('GET /orgs/{org}/installation', { org: 'mona' }))).status, 404, 'a user is no org')
  t.equal((await failure(app.request('GET /users/{username}/installation', { username: 'octo' }))).status, 404, 'not installed')
  t.equal((await failure(app.request('GET /users/{username}/installation', { username: 'nobody' }))).status, 404)
  sim.state.renameRepo(sim.state.repos.get(1100)!, 'api-v2')
  const moved = await app.request('GET /repos/{owner}/{repo}/installation', { owner: 'acme', repo: 'api' })
  t.equal(moved.data.id, 7, 'octokit follows the redirect of a renamed repo')
  t.equal(moved.url, `${sim.apiUrl}/repositories/1100/installation`)
})

t.test('POST /app/installations/{id}/access_tokens: a token for one hour, covering the installation', async (t) => {
  const sim = await startSimulator(t, installedWorld())
  const app = appFor(sim).octokit
  const before = Date.now()
  const { status, data } = await app.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: 7 })
  t.equal(status, 201)
  t.match(data.token, /^ghs_[A-Za-z0-9]{36}$/)
  const expires = Date.parse(data.expires_at)
  t.ok(expires >= Math.floor(before / 1000) * 1000 + 3600_000 && expires <= Date.now() + 3600_000, 'expires in an hour')
  t.same(data.permissions, { metadata: 'read', contents: 'read', repository_hooks: 'write' })
  t.equal(data.repository_selection, 'selected')
  t.same(data.repositories?.map((r) => r.full_name), ['acme/api', 'acme/web'])
  const all = await app.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: 8 })
  t.equal(all.data.repository_selection, 'all')
  t.equal(all.data.repositories, undefined, 'an "all" installation lists no repositories')
  const token = sim.state.tokens.get(data.token)
  t.match(token, { kind: 'installation', installationId: 7, failFirstUse: false })
})

t.test('access tokens narrowed to repositories and permissions', async (t) => {
  const sim = await startSimulator(t, installedWorld())
  const app = appFor(sim).octokit
  const create = (body: Record<string, unknown>, id = 8) => app.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: id, ...body })
  const byName = await create({ repositories: ['site', 'dotfiles'], permissions: { metadata: 'read' } })
  t.equal(byName.data.repository_selection, 'selected')
  t.same(byName.data.repositories?.map((r) => r.name), ['dotfiles', 'site'])
  t.same(byName.data.permissions, { metadata: 'read' })
  const narrowed = clientFor(sim.apiUrl, byName.data.token)
  const listed = await narrowed.request('GET /installation/repositories')
  t.same(listed.data.repositories.map((r) => r.name), ['dotfiles', 'site'])
  t.equal(listed.data.repository_selection, 'selected')
  t.equal((await narrowed.request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'new-name' })).status, 200, 'a public repo is readable anyway')
  t.match(await failure(narrowed.request('GET /repos/{owner}/{repo}/hooks', { owner: 'mona', repo: 'site' })), { status: 403 }, 'no repository_hooks permission in this token')

  const byId = await create({ repository_ids: [1001, 1001], repositories: ['site'] })
  t.same(byId.data.repositories?.map((r) => r.id), [1001], 'a repo named twice counts once')

  for (const [body, why] of [
    [{ repositories: ['nope'] }, 'an unknown name'],
    [{ repository_ids: [1100] }, 'a repo of another account'],
    [{ repository_ids: [999999] }, 'an unknown id'],
    [{ repositories: 'site' }, 'not a list'],
    [{ repository_ids: ['1001'] }, 'ids that are not numbers'],
    [{ permissions: { repository_hooks: 'admin' } }, 'more than the installation has'],
    [{ permissions: { issues: 'read' } }, 'a permission the app lacks'],
    [{ permissions: { metadata: 'lots' } }, 'not a level'],
    [{ permissions: ['metadata'] }, 'not an object'],
  ] as const) {
    t.match(await failure(create(body)), { status: 422 }, why)
  }
  t.same((await create({ repository_ids: [1101] }, 7)).data.repositories?.map((r) => r.id), [1101], 'a repo of a selected installation')
})

t.test('access tokens: a suspended installation and an unknown one', async (t) => {
  const sim = await startSimulator(t, installedWorld())
  const app = appFor(sim).octokit
  t.match(await failure(app.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: 9 })), { status: 403, message: /suspended/ })
  t.equal((await failure(app.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: 99 }))).status, 404)
})

t.test('a token of an installation later suspended or removed stops working', async (t) => {
  const sim = await startSimulator(t, installedWorld())
  const { token } = (await (await appFor(sim).getInstallationOctokit(7)).auth({ type: 'installation' })) as { token: string }
  // A plain client: octokit's App would retry a 401 for five seconds (replication lag).
  const inst = clientFor(sim.apiUrl, token)
  t.equal((await inst.request('GET /installation/repositories')).status, 200)
  const installation = sim.state.installations.get(7)!
  installation.suspendedAt = new Date()
  t.match(await failure(inst.request('GET /installation/repositories')), { status: 403, message: /suspended/ })
  installation.suspendedAt = null
  sim.state.installations.delete(7)
  t.match(await failure(inst.request('GET /installation/repositories')), { status: 401 }, 'its tokens name nothing any more')
  sim.state.installations.set(7, installation)
  sim.state.uninstall(installation)
  t.match(await failure(inst.request('GET /installation/repositories')), { status: 401 })
})
