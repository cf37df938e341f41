import t from 'tap'
import { appFor, startSimulator, type StartedSimulator } from '../helpers/simulator.js'
import { withScopes } from '../helpers/scoped-world.js'

// POST /_sim/accounts/{login}/rename: the old login names nothing any more, as on GitHub;
// repositories under it redirect by id; payloads show the new login; ids, memberships and
// installations stay.

const MONA = 'gho_legacy_mona_0001'

async function rename(sim: StartedSimulator, login: string, body: unknown) {
  const response = await fetch(`${sim.url}/_sim/accounts/${login}/rename`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.status, body: (await response.json()) as any }
}

async function get(sim: StartedSimulator, path: string, token = MONA) {
  const response = await fetch(`${sim.apiUrl}${path}`, { headers: { authorization: `token ${token}` }, redirect: 'manual' })
  return { status: response.status, location: response.headers.get('location'), body: (await response.json()) as any }
}

function renamedWorld() {
  const world = withScopes({ mona: ['read:org'] })
  world.installations = [
    { id: 7001, account: 'mona', repository_selection: 'all' },
    { id: 7002, account: 'acme', repository_selection: 'selected', repositories: [1100] },
  ]
  return world
}

t.test('a renamed organization: the old login 404s, its repositories redirect, everything shows the new login', async (t) => {
  const sim = await startSimulator(t, renamedWorld())
  t.same(await rename(sim, 'acme', { login: 'acme-corp' }), { status: 200, body: { id: 100, login: 'acme-corp', formerLogin: 'acme' } })
  t.equal((await get(sim, '/orgs/acme/members')).status, 404)
  t.equal((await get(sim, '/orgs/acme/hooks')).status, 404)
  t.equal((await get(sim, '/user/memberships/orgs/acme')).status, 404)
  t.same((await get(sim, '/orgs/acme-corp/members')).body.map((u: { login: string }) => u.login), ['mona', 'hubot', 'octo'], 'members kept')
  t.match((await get(sim, '/user/memberships/orgs/acme-corp')).body, { role: 'admin', organization: { id: 100, login: 'acme-corp' } })
  const moved = await get(sim, '/repos/acme/api/hooks')
  t.equal(moved.status, 301)
  t.equal(moved.location, `${sim.apiUrl}/repositories/1100/hooks`)
  t.match((await get(sim, '/repos/acme-corp/api')).body, { id: 1100, full_name: 'acme-corp/api', owner: { login: 'acme-corp', id: 100 } })
  t.ok((await get(sim, '/user/repos')).body.some((r: { full_name: string }) => r.full_name === 'acme-corp/web'))
  t.same((await get(sim, '/user/orgs')).body.map((o: { login: string }) => o.login), ['acme-corp', 'widgets'])

  const app = appFor(sim).octokit
  t.equal((await app.request('GET /orgs/{org}/installation', { org: 'acme' }).catch((e: { status: number }) => e)).status, 404, 'the App finds the installation by the current login only')
  t.match((await app.request('GET /orgs/{org}/installation', { org: 'acme-corp' })).data, { id: 7002, account: { login: 'acme-corp', id: 100 } })
  const dump = (await (await fetch(`${sim.url}/_sim/state`)).json()) as any
  t.match(dump.installations.find((i: { id: number }) => i.id === 7002), { account: 'acme-corp', repositories: [{ id: 1100, fullName: 'acme-corp/api' }] })
  t.match(dump.repos.find((r: { id: number }) => r.id === 1100), { fullName: 'acme-corp/api', formerNames: ['acme/api'] })
})

t.test('a renamed user: /user and the App follow the new login, the old one names nothing', async (t) => {
  const sim = await startSimulator(t, renamedWorld())
  t.equal((await rename(sim, 'MONA', { login: 'mona-lisa' })).status, 200, 'the old login is not case sensitive')
  t.match((await get(sim, '/user')).body, { id: 1, login: 'mona-lisa', url: `${sim.apiUrl}/users/mona-lisa` })
  t.match(await get(sim, '/repos/mona/site'), { status: 301, location: `${sim.apiUrl}/repositories/1001` })
  t.equal((await get(sim, '/repositories/1001')).body.full_name, 'mona-lisa/site')
  const app = appFor(sim).octokit
  t.equal((await app.request('GET /users/{username}/installation', { username: 'mona' }).catch((e: { status: number }) => e)).status, 404)
  t.match((await app.request('GET /users/{username}/installation', { username: 'mona-lisa' })).data, { id: 7001, account: { login: 'mona-lisa' } })
  t.same((await rename(sim, 'mona-lisa', { login: 'Mona-Lisa' })).body, { id: 1, login: 'Mona-Lisa', formerLogin: 'mona-lisa' }, 'a change of case is a rename too')
})

t.test('rename refusals: a taken login 409, an unknown one 404, an invalid body 400', async (t) => {
  const sim = await startSimulator(t, renamedWorld())
  t.match(await rename(sim, 'acme', { login: 'WIDGETS' }), { status: 409, body: { message: 'The login "WIDGETS" is already taken.' } })
  t.match(await rename(sim, 'acme', { login: 'octo' }), { status: 409 }, 'a user login is taken for an org too')
  t.match(await rename(sim, 'ghost', { login: 'spirit' }), { status: 404, body: { message: 'No user or org has the login "ghost".' } })
  for (const body of [{}, { login: '' }, { login: 'has space' }, { login: '-dash' }, { login: 'a--b' }, { login: 'x'.repeat(40) }, { login: 'ok', extra: 1 }]) {
    t.equal((await rename(sim, 'acme', body)).status, 400, JSON.stringify(body))
  }
  t.equal((await get(sim, '/orgs/acme/members')).status, 200, 'nothing changed')
})
