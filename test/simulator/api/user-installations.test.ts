import t from 'tap'
import type { SimEvent } from '../../../src/simulator/state.js'
import { failure } from '../../helpers/request-error.js'
import { appFor, clientFor, demoWorld, startSimulator } from '../../helpers/simulator.js'

const MONA = 'gho_legacy_mona_0001'
const OCTO = 'gho_legacy_octo_0003'

t.test('GET /user/installations lists the installations the ghu_ token user has explicit access to', async (t) => {
  const world = demoWorld()
  world.users.push({ id: 4, login: 'outsider' }, { id: 5, login: 'guest' })
  world.orgs![1]!.members['outsider'] = 'member'
  world.orgs![1]!.default_repository_permission = 'none'
  world.repos.push({ id: 1201, owner: 'widgets', name: 'secret', private: true, collaborators: { guest: 'write' } })
  world.installations = [
    { id: 7, account: 'acme', repository_selection: 'all' },
    { id: 8, account: 'widgets', repository_selection: 'selected', repositories: [1201] },
    { id: 9, account: 'mona', repository_selection: 'selected', repositories: [1000], suspended: true },
  ]
  const sim = await startSimulator(t, world)
  const ids = async (userId: number) => {
    const { data } = await clientFor(sim.apiUrl, sim.state.issueUserToken(userId).token).request('GET /user/installations')
    t.equal(data.total_count, data.installations.length)
    return data.installations.map((i) => i.id)
  }
  t.same(await ids(1), [7, 9], 'mona: acme owner and her own account, suspended or not; not widgets (no base permission)')
  t.same(await ids(2), [7], 'hubot: acme member')
  t.same(await ids(4), [], 'a member with no base permission and no repo of the installation')
  t.same(await ids(5), [8], 'an outside collaborator on a covered repo')
  const { data } = await clientFor(sim.apiUrl, sim.state.issueUserToken(1).token).request('GET /user/installations')
  t.match(data.installations[1], {
    id: 9,
    account: { login: 'mona', type: 'User' },
    target_type: 'User',
    target_id: 1,
    app_id: 9001,
    app_slug: 'acme-ci',
    repository_selection: 'selected',
    html_url: `${sim.url}/settings/installations/9`,
    access_tokens_url: `${sim.apiUrl}/app/installations/9/access_tokens`,
    suspended_at: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    suspended_by: null,
  })
  t.equal(data.installations[0]!.html_url, `${sim.url}/organizations/acme/settings/installations/7`)
})

t.test('GET /user/installations refuses every credential but a GitHub App user token', async (t) => {
  const sim = await startSimulator(t)
  sim.state.install(100, 'all', [])
  t.match(await failure(clientFor(sim.apiUrl, MONA).request('GET /user/installations')), { status: 403, message: /authorized to a GitHub App/ })
  t.match(await failure(clientFor(sim.apiUrl, undefined).request('GET /user/installations')), { status: 401 })
  const inst = await appFor(sim).getInstallationOctokit(sim.state.installationOn(100)!.id)
  t.match(await failure(inst.request('GET /user/installations')), { status: 403, message: /not accessible by integration/ })
})

t.test('GET /user/installations/{id}/repositories: the repos of the installation the user can read', async (t) => {
  const world = demoWorld()
  world.orgs![0]!.default_repository_permission = 'none'
  world.installations = [{ id: 7, account: 'acme', repository_selection: 'all' }]
  const sim = await startSimulator(t, world)
  const octo = clientFor(sim.apiUrl, sim.state.issueUserToken(3).token)
  const { data } = await octo.request('GET /user/installations/{installation_id}/repositories', { installation_id: 7 })
  t.equal(data.total_count, 1)
  t.equal(data.repository_selection, 'all')
  t.match(data.repositories, [{ full_name: 'acme/vault', permissions: { pull: true, push: false, admin: false } }])
  const mona = clientFor(sim.apiUrl, sim.state.issueUserToken(1).token)
  const all = await mona.paginate('GET /user/installations/{installation_id}/repositories', { installation_id: 7, per_page: 1 })
  t.same(all.map((r) => r.id), [1100, 1101, 1102], 'octokit pages through the wrapped list')
  const hubot = clientFor(sim.apiUrl, sim.state.issueUserToken(2).token)
  t.equal((await failure(hubot.request('GET /user/installations/{installation_id}/repositories', { installation_id: 7 }))).status, 404, 'no access to the installation')
  t.equal((await failure(mona.request('GET /user/installations/{installation_id}/repositories', { installation_id: 99 }))).status, 404)
  t.equal((await failure(mona.request('GET /user/installations/abc/repositories'))).status, 404)
  t.equal((await failure(clientFor(sim.apiUrl, MONA).request('GET /user/installations/7/repositories'))).status, 403)
})

t.test('PUT and DELETE /user/installations/{id}/repositories/{repo} with a classic token', async (t) => {
  const sim = await startSimulator(t)
  const events: SimEvent[] = []
  sim.state.onEvent = (event) => void events.push(event)
  const { installation } = sim.state.install(100, 'selected', [1100])
  const mona = clientFor(sim.apiUrl, MONA)
  const put = (repo: number, client = mona) => client.request('PUT /user/installations/{installation_id}/repositories/{repository_id}', { installation_id: installation.id, repository_id: repo })
  const del = (repo: number, client = mona) => client.request('DELETE /user/installations/{installation_id}/repositories/{repository_id}', { installation_id: installation.id, repository_id: repo })

  t.equal((await put(1101)).status, 204)
  t.same([...installation.repositoryIds].sort(), [1100, 1101])
  t.match(events, [{ name: 'installation_repositories', action: 'added', installation: { id: installation.id }, added: [{ id: 1101 }], removed: [], sender: { login: 'mona' } }])
  const inst = await appFor(sim).getInstallationOctokit(installation.id)
  t.same((await inst.request('GET /installation/repositories')).data.repositories.map((r) => r.id), [1100, 1101], 'the installation sees the added repo at once')
  t.equal((await put(1101)).status, 204, 'adding again changes nothing')
  t.equal(events.length, 1, '... and sends no event')

  t.equal((await del(1100)).status, 204)
  t.same([...installation.repositoryIds], [1101])
  t.match(events[1], { action: 'removed', added: [], removed: [{ id: 1100 }] })
  t.equal((await del(1100)).status, 204, 'removing a repo not there changes nothing')
  t.equal(events.length, 2)

  t.match(await failure(put(1102, clientFor(sim.apiUrl, OCTO))), { status: 403, message: /Must have admin rights/ }, 'octo only reads acme/vault')
  t.match(await failure(put(1000)), { status: 404 }, 'a repo of another account')
  t.match(await failure(put(424242)), { status: 404 }, 'no such repo')
})

t.test('PUT /user/installations/{id}/repositories/{repo}: refusals', async (t) => {
  const world = demoWorld()
  world.users[2]!.legacy_scopes = ['admin:repo_hook']
  const sim = await startSimulator(t, world)
  const { installation } = sim.state.install(100, 'selected', [1100])
  const route = 'PUT /user/installations/{installation_id}/repositories/{repository_id}'
  const args = { installation_id: installation.id, repository_id: 1102 }
  const octoWithRepoScope = sim.state.tokens.get(OCTO)!
  t.match(await failure(clientFor(sim.apiUrl, OCTO).request(route, args)), { status: 404, response: { headers: { 'x-accepted-oauth-scopes': 'repo' } } }, 'the repo scope is needed')
  if (octoWithRepoScope.kind === 'legacy') octoWithRepoScope.scopes = ['repo']
  t.match(await failure(clientFor(sim.apiUrl, OCTO).request(route, args)), { status: 403, message: /Must have admin rights to Repository/ }, 'a reader of the repo')
  t.match(await failure(clientFor(sim.apiUrl, sim.state.issueUserToken(1).token).request(route, args)), { status: 403, message: /not accessible by integration/ }, 'GitHub App user tokens: classic tokens only')
  t.match(await failure(clientFor(sim.apiUrl, undefined).request(route, args)), { status: 401 })
  t.match(await failure(clientFor(sim.apiUrl, MONA).request(route, { installation_id: 999, repository_id: 1102 })), { status: 404 })
  sim.state.legacyTokensMayAddRepos = false
  t.match(await failure(clientFor(sim.apiUrl, MONA).request(route, args)), { status: 403, message: /Resource not accessible by OAuth app/ }, 'the world may refuse OAuth tokens here')
  t.same([...installation.repositoryIds], [1100], 'nothing changed')
  sim.state.legacyTokensMayAddRepos = true
  t.equal((await clientFor(sim.apiUrl, MONA).request(route, args)).status, 204, 'and accept them again')
})

t.test('an "all repositories" installation: PUT changes nothing, DELETE is refused', async (t) => {
  const sim = await startSimulator(t)
  const events: SimEvent[] = []
  sim.state.onEvent = (event) => void events.push(event)
  const { installation } = sim.state.install(1, 'all', [])
  const mona = clientFor(sim.apiUrl, MONA)
  const args = { installation_id: installation.id, repository_id: 1001 }
  t.equal((await mona.request('PUT /user/installations/{installation_id}/repositories/{repository_id}', args)).status, 204)
  t.match(await failure(mona.request('DELETE /user/installations/{installation_id}/repositories/{repository_id}', args)), { status: 422 })
  t.same(events, [])
})
