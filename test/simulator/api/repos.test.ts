import t from 'tap'
import { failure } from '../../helpers/request-error.js'
import { appFor, clientFor, demoWorld, startSimulator } from '../../helpers/simulator.js'

const MONA = 'gho_legacy_mona_0001'
const OCTO = 'gho_legacy_octo_0003'

t.test('GET /repos/{owner}/{repo}: a full repository in GitHub Enterprise Server layout', async (t) => {
  const sim = await startSimulator(t)
  const { data } = await clientFor(sim.apiUrl, MONA).request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' })
  const host = new URL(sim.url).host
  t.match(data, {
    id: 1100,
    node_id: Buffer.from('010:Repository1100').toString('base64'),
    name: 'api',
    full_name: 'acme/api',
    private: true,
    visibility: 'private',
    owner: { login: 'acme', type: 'Organization', url: `${sim.apiUrl}/orgs/acme` },
    organization: { login: 'acme' },
    html_url: `${sim.url}/acme/api`,
    url: `${sim.apiUrl}/repos/acme/api`,
    hooks_url: `${sim.apiUrl}/repos/acme/api/hooks`,
    clone_url: `${sim.url}/acme/api.git`,
    ssh_url: `git@${host}:acme/api.git`,
    permissions: { admin: true, push: true, pull: true },
    archived: false,
    network_count: 0,
    subscribers_count: 0,
  })
  const own = (await clientFor(sim.apiUrl, MONA).request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'dotfiles' })).data
  t.equal(own.organization, undefined, 'a user-owned repo has no organization')
  t.equal(own.owner.events_url, `${sim.apiUrl}/users/mona/events{/privacy}`)
})

t.test('who sees which repository', async (t) => {
  const world = demoWorld()
  world.users.push({ id: 4, login: 'stranger', legacy_token: 'gho_stranger', legacy_scopes: ['repo'] })
  world.users[0]!.legacy_scopes = ['public_repo']
  world.installations = [{ id: 7, account: 'acme', repository_selection: 'selected', repositories: [1100] }]
  const sim = await startSimulator(t, world)
  const status = async (token: string | undefined, owner: string, repo: string) => {
    try {
      return (await clientFor(sim.apiUrl, token).request('GET /repos/{owner}/{repo}', { owner, repo })).status
    } catch (error) {
      return (error as { status: number }).status
    }
  }
  t.equal(await status(undefined, 'mona', 'dotfiles'), 200, 'anyone reads a public repo')
  t.equal(await status(undefined, 'mona', 'site'), 404, 'nobody anonymous sees a private one')
  t.equal(await status('gho_stranger', 'acme', 'api'), 404, 'a stranger does not either')
  t.equal(await status(MONA, 'mona', 'site'), 404, 'without the repo scope, not even its owner through the OAuth app')
  t.equal(await status(OCTO, 'acme', 'vault'), 200)
  const ghu = sim.state.issueUserToken(3).token
  t.equal(await status(ghu, 'acme', 'api'), 200, 'ghu_: a repo both the user and the installation reach')
  t.equal(await status(ghu, 'acme', 'web'), 404, 'ghu_: the user reads it, the installation does not cover it')
  t.equal(await status(ghu, 'widgets', 'core'), 200, 'ghu_: public')
  const inst = await appFor(sim).getInstallationOctokit(7)
  const { token } = (await inst.auth({ type: 'installation' })) as { token: string }
  t.equal(await status(token, 'acme', 'api'), 200)
  t.equal(await status(token, 'acme', 'web'), 404, 'ghs_: outside the installation')
  t.equal(await status(token, 'mona', 'dotfiles'), 200, 'ghs_: public')
  const { data } = await clientFor(sim.apiUrl, token).request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' })
  t.same(data.permissions, { admin: false, maintain: false, push: false, triage: false, pull: true }, 'contents: read')
  const anon = await clientFor(sim.apiUrl, undefined).request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'dotfiles' })
  t.equal(anon.data.permissions, undefined, 'no permissions for an anonymous caller')
})

t.test('GET /repositories/{id}', async (t) => {
  const sim = await startSimulator(t)
  const mona = clientFor(sim.apiUrl, MONA)
  t.equal((await mona.request('GET /repositories/{repository_id}', { repository_id: 1001 })).data.full_name, 'mona/site')
  t.equal((await failure(clientFor(sim.apiUrl, OCTO).request('GET /repositories/{repository_id}', { repository_id: 1001 }))).status, 404)
  t.equal((await failure(mona.request('GET /repositories/{repository_id}', { repository_id: 424242 }))).status, 404)
  t.equal((await failure(mona.request('GET /repositories/not-a-number'))).status, 404)
  sim.state.deleteRepo(sim.state.repos.get(1001)!)
  t.equal((await failure(mona.request('GET /repositories/{repository_id}', { repository_id: 1001 }))).status, 404, 'deleted')
  t.equal((await failure(mona.request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'site' }))).status, 404, 'deleted: no redirect either')
})

t.test('a renamed or transferred repository answers 301 to /repositories/{id}, and octokit follows it', async (t) => {
  const sim = await startSimulator(t)
  sim.state.renameRepo(sim.state.repos.get(1001)!, 'website')
  const res = await fetch(`${sim.apiUrl}/repos/mona/site?x=1`, { headers: { authorization: `token ${MONA}` }, redirect: 'manual' })
  t.equal(res.status, 301)
  t.equal(res.headers.get('location'), `${sim.apiUrl}/repositories/1001?x=1`)
  t.match(await res.json(), { message: 'Moved Permanently', url: `${sim.apiUrl}/repositories/1001?x=1`, documentation_url: /^https:\/\/docs\.github\.com/ })
  const followed = await clientFor(sim.apiUrl, MONA).request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'site' })
  t.equal(followed.data.full_name, 'mona/website')
  t.equal((await failure(clientFor(sim.apiUrl, OCTO).request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'site' }))).status, 404, 'no redirect to a repo the caller may not see')

  sim.state.transferRepo(sim.state.repos.get(1000)!, 100)
  const moved = await clientFor(sim.apiUrl, OCTO).request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'dotfiles' })
  t.equal(moved.data.full_name, 'acme/dotfiles')
  t.equal(moved.url, `${sim.apiUrl}/repositories/1000`)
  t.equal((await clientFor(sim.apiUrl, OCTO).request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'dotfiles' })).status, 200, 'the new name answers directly')
})

t.test('an app with contents: write pushes to the repositories of its installation', async (t) => {
  const world = demoWorld()
  world.app.permissions['contents'] = 'write'
  world.installations = [{ id: 7, account: 'mona', repository_selection: 'all' }]
  const sim = await startSimulator(t, world)
  const inst = await appFor(sim).getInstallationOctokit(7)
  const { data } = await inst.request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'site' })
  t.same(data.permissions, { admin: false, maintain: false, push: true, triage: true, pull: true })
  const outside = await inst.request('GET /repos/{owner}/{repo}', { owner: 'widgets', repo: 'core' })
  t.match(outside.data.permissions, { push: false, pull: true }, 'a public repo outside the installation: read only')
})
