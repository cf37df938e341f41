import t from 'tap'
import { SimState } from '../../src/simulator/state.js'
import type { World } from '../../src/simulator/world.js'
import { appFor, clientFor, demoWorld, startSimulator } from '../helpers/simulator.js'

// The simulator's memory answering the questions the API asks of it.

function bareWorld(): World {
  const { app, legacy_oauth_app } = demoWorld()
  return { app, legacy_oauth_app, users: [{ id: 1, login: 'solo', legacy_token: 'gho_solo', legacy_scopes: ['repo', 'read:org'] }], repos: [{ id: 10, owner: 'solo', name: 'one' }] }
}

t.test('a world with no organizations and no installations', async (t) => {
  const sim = await startSimulator(t, bareWorld())
  t.same((await clientFor(sim.apiUrl, 'gho_solo').request('GET /user/orgs')).data, [])
  t.same((await appFor(sim).octokit.request('GET /app/installations')).data, [])
  t.equal(sim.state.newId(), 11, 'new ids come after every id of the world')
})

t.test('a "selected" installation listing no repositories covers none', async (t) => {
  const world = bareWorld()
  world.installations = [{ id: 7, account: 'solo', repository_selection: 'selected' }]
  const sim = await startSimulator(t, world)
  const inst = await appFor(sim).getInstallationOctokit(7)
  t.same((await inst.request('GET /installation/repositories')).data, { total_count: 0, repository_selection: 'selected', repositories: [] })
})

t.test('a deleted repository grants nothing, and hooks are found by id wherever they are', async (t) => {
  const state = new SimState(demoWorld())
  const site = state.repos.get(1001)!
  t.equal(state.permission(1, site), 'admin')
  state.deleteRepo(site)
  t.equal(state.permission(1, site), 'none')
  t.match(state.hookById(5100), { kind: 'repo', parentId: 1100 })
  t.match(state.hookById(6000), { kind: 'org', parentId: 100 })
  t.equal(state.hookById(424242), undefined)
})

t.test('cached lists are computed again after a change, and only then', async (t) => {
  const state = new SimState(demoWorld())
  let computed = 0
  const list = () => state.memoized('k', () => ++computed)
  t.equal(list(), 1)
  t.equal(list(), 1)
  state.touch()
  t.equal(list(), 2)
  state.renameRepo(state.repos.get(1000)!, 'renamed')
  t.equal(list(), 3)
})

t.test('a state no server listens to takes its events without complaint', async (t) => {
  const state = new SimState(demoWorld())
  const { installation } = state.install(1, 'all', [])
  t.doesNotThrow(() => state.onEvent({ name: 'installation', action: 'created', installation, sender: state.users.get(1)! }))
})

t.test('affiliated repositories: owned, through an organization (even one with none), as a collaborator', async (t) => {
  const world = demoWorld()
  world.orgs!.push({ id: 102, login: 'empty', members: { octo: 'member' } })
  const state = new SimState(world)
  t.same(state.affiliatedRepos(3).map((r) => state.fullName(r)), ['acme/api', 'acme/vault', 'acme/web', 'widgets/core'])
  state.orgs.get(100)!.defaultPermission = 'none'
  t.same(state.affiliatedRepos(3).map((r) => state.fullName(r)), ['acme/vault', 'widgets/core'], 'the collaboration alone, once the base permission is none')
  state.transferRepo(state.repos.get(1102)!, 3)
  t.same(state.affiliatedRepos(3).map((r) => state.fullName(r)), ['octo/vault', 'widgets/core'], 'now his own')
})
