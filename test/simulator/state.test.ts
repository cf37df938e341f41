import t from 'tap'
import { clientFor, startSimulator } from '../helpers/simulator.js'

t.test('the API log keeps only the most recent requests', async (t) => {
  const sim = await startSimulator(t)
  sim.state.apiLogLimit = 10
  const octokit = clientFor(sim.apiUrl, 'gho_legacy_mona_0001')
  for (let i = 0; i < 12; i++) await octokit.request('GET /user')
  await octokit.request('GET /user/repos')
  t.ok(sim.state.apiLog.length <= 10)
  t.match(sim.state.apiLog.at(-1), { path: '/user/repos', status: 200 }, 'the newest entry is kept')
})
