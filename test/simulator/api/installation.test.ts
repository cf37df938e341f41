import t from 'tap'
import { failure } from '../../helpers/request-error.js'
import { appFor, clientFor, demoWorld, startSimulator } from '../../helpers/simulator.js'

t.test('GET /installation/repositories pages through every repository of an "all" installation', async (t) => {
  const world = demoWorld()
  for (let i = 0; i < 250; i++) world.repos.push({ id: 30000 - i, owner: 'widgets', name: `svc-${i}`, private: true })
  world.installations = [{ id: 7, account: 'widgets', repository_selection: 'all' }]
  const sim = await startSimulator(t, world)
  const inst = await appFor(sim).getInstallationOctokit(7)
  const first = await inst.request('GET /installation/repositories', { per_page: 100 })
  t.equal(first.data.total_count, 251)
  t.equal(first.data.repository_selection, 'all')
  t.equal(first.data.repositories.length, 100)
  t.equal(first.headers.link, `<${sim.apiUrl}/installation/repositories?per_page=100&page=2>; rel="next", <${sim.apiUrl}/installation/repositories?per_page=100&page=3>; rel="last"`)
  const all = await inst.paginate('GET /installation/repositories', { per_page: 100 })
  t.equal(all.length, 251)
  t.same(all.slice(0, 2).map((r) => r.id), [1200, 29751], 'ordered by id')
  t.equal(new Set(all.map((r) => r.id)).size, 251)
  sim.state.deleteRepo(sim.state.repos.get(1200)!)
  t.equal((await inst.request('GET /installation/repositories')).data.total_count, 250, 'a deleted repo leaves at once')
})

t.test('GET /installation/repositories follows the installation as it changes', async (t) => {
  const world = demoWorld()
  world.installations = [{ id: 7, account: 'mona', repository_selection: 'selected', repositories: [1000, 1001] }]
  const sim = await startSimulator(t, world)
  const inst = await appFor(sim).getInstallationOctokit(7)
  const ids = async () => (await inst.request('GET /installation/repositories')).data.repositories.map((r) => r.id)
  t.same(await ids(), [1000, 1001])
  sim.state.install(1, 'selected', [1002])
  t.same(await ids(), [1002])
  sim.state.transferRepo(sim.state.repos.get(1002)!, 100)
  t.same(await ids(), [], 'a repo transferred away is no longer covered')
  const { token } = (await inst.auth({ type: 'installation' })) as { token: string }
  t.ok(token.startsWith('ghs_'))
})

t.test('a token narrowed to repositories lists those still covered', async (t) => {
  const world = demoWorld()
  world.installations = [{ id: 7, account: 'mona', repository_selection: 'all' }]
  const sim = await startSimulator(t, world)
  const { data } = await appFor(sim).octokit.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: 7, repository_ids: [1002, 1000, 1001] })
  const client = clientFor(sim.apiUrl, data.token)
  sim.state.deleteRepo(sim.state.repos.get(1001)!)
  sim.state.transferRepo(sim.state.repos.get(1000)!, 100)
  const listed = await client.request('GET /installation/repositories')
  t.same(listed.data.repositories.map((r) => r.id), [1002])
  t.equal(listed.data.total_count, 1)
  t.equal(listed.data.repository_selection, 'selected')
})

t.test('GET /installation/repositories takes an installation token only', async (t) => {
  const sim = await startSimulator(t)
  t.match(await failure(clientFor(sim.apiUrl, 'gho_legacy_mona_0001').request('GET /installation/repositories')), { status: 403, message: /installation access token/ })
  t.match(await failure(clientFor(sim.apiUrl, sim.state.issueUserToken(1).token).request('GET /installation/repositories')), { status: 403 })
  t.match(await failure(clientFor(sim.apiUrl, undefined).request('GET /installation/repositories')), { status: 401 })
})
