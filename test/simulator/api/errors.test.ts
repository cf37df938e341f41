import t from 'tap'
import { appFor, startSimulator } from '../../helpers/simulator.js'

// What the API answers outside its endpoints' own rules: GitHub's JSON error bodies.

const MONA = { authorization: 'token gho_legacy_mona_0001' }

t.test('an unknown endpoint answers 404 in JSON', async (t) => {
  const sim = await startSimulator(t)
  const res = await fetch(`${sim.apiUrl}/no/such/endpoint`, { headers: MONA })
  t.equal(res.status, 404)
  t.match(res.headers.get('content-type'), /^application\/json/)
  t.same(await res.json(), { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' })
})

t.test('an error fault leaves unknown endpoints alone; a status without a name is an "Error"', async (t) => {
  const sim = await startSimulator(t)
  sim.state.faults.errors = [{ method: '*', pattern: '/user', status: 599, rate: 1 }]
  t.equal((await fetch(`${sim.apiUrl}/no/such/endpoint`, { headers: MONA })).status, 404)
  const res = await fetch(`${sim.apiUrl}/user`, { headers: MONA })
  t.equal(res.status, 599)
  t.match(await res.json(), { message: 'Error', status: '599' })
})

t.test('a body that is not JSON answers 400 "Problems parsing JSON"; another media type 415', async (t) => {
  const sim = await startSimulator(t)
  const { token: jwt } = (await appFor(sim).octokit.auth({ type: 'app' })) as { token: string }
  sim.state.install(1, 'all', [])
  const id = sim.state.installationOn(1)!.id
  const post = (body: string, type: string) =>
    fetch(`${sim.apiUrl}/app/installations/${id}/access_tokens`, { method: 'POST', headers: { authorization: `Bearer ${jwt}`, 'content-type': type }, body })
  const bad = await post('{nope', 'application/json')
  t.equal(bad.status, 400)
  t.match(await bad.json(), { message: 'Problems parsing JSON' })
  const other = await post('x', 'text/csv')
  t.equal(other.status, 415)
  t.match(await other.json(), { status: '415' })
  t.equal((await post('null', 'application/json')).status, 201, 'a JSON null is no narrowing')
  t.equal((await post('', 'application/json')).status, 201, 'nor an empty body')
})

t.test('an unexpected failure answers 500 "Server Error"', async (t) => {
  const sim = await startSimulator(t)
  sim.state.permission = () => {
    throw new Error('boom')
  }
  const res = await fetch(`${sim.apiUrl}/repos/mona/dotfiles`, { headers: MONA })
  t.equal(res.status, 500)
  t.same(await res.json(), { message: 'Server Error', documentation_url: 'https://docs.github.com/rest', status: '500' })
  t.match(sim.state.apiLog.at(-1), { path: '/repos/mona/dotfiles', status: 500 })
})

t.test('responses say which API version and media type they follow', async (t) => {
  const sim = await startSimulator(t)
  const res = await fetch(`${sim.apiUrl}/user`, { headers: MONA })
  t.equal(res.headers.get('x-github-api-version-selected'), '2022-11-28')
  t.equal(res.headers.get('x-github-media-type'), 'github.v3; format=json')
})
