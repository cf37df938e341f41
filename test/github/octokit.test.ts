import pino from 'pino'
import t from 'tap'
import { createOctokitClass } from '../../src/github/octokit.js'
import { startSimulator } from '../helpers/simulator.js'

function capture(): { log: pino.Logger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = []
  const log = pino({ level: 'debug' }, { write: (line: string) => void raw.push(line) })
  return { log, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) }
}

t.test('requests are logged with method, URL, status and time, never a token', async (t) => {
  const sim = await startSimulator(t)
  const { log, lines } = capture()
  const GitHub = createOctokitClass({ apiUrl: sim.apiUrl, log: log as never })
  const octokit = new GitHub({ auth: 'gho_legacy_mona_0001' })
  const { data } = await octokit.request('GET /user')
  t.equal(data.login, 'mona')
  await t.rejects(octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'nope' }), { name: 'HttpError', status: 404 } as never)
  const logged = lines().filter((l) => l['msg'] === 'GitHub request' || l['msg'] === 'GitHub request failed')
  t.match(logged, [
    { method: 'GET', route: '/user', url: `${sim.apiUrl}/user`, status: 200, ms: Number },
    { method: 'GET', route: '/repos/{owner}/{repo}', url: `${sim.apiUrl}/repos/acme/nope`, status: 404 },
  ])
  t.notMatch(JSON.stringify(lines()), /gho_legacy_mona_0001/, 'the token is in no log line')
})

t.test('rate limits: a short secondary wait is retried, a long primary one is not', async (t) => {
  const sim = await startSimulator(t)
  const { log, lines } = capture()
  const GitHub = createOctokitClass({ apiUrl: sim.apiUrl, log: log as never, retries: 0 })
  const octokit = new GitHub({ auth: 'gho_legacy_mona_0001' })

  // One request in flight per token: the second of two at once is refused with a one-second
  // retry-after, waits, and succeeds.
  sim.state.limits.concurrentPerToken = 1
  sim.state.faults.latencyMs = 50
  const both = await Promise.all([octokit.request('GET /user'), octokit.request('GET /user/repos')])
  t.same(both.map((r) => r.status), [200, 200])
  t.match(lines().find((l) => l['msg'] === 'GitHub secondary rate limit'), { retryAfter: 1, retry: true })

  sim.state.limits.hourlyQuota = 1
  await t.rejects(octokit.request('GET /user'), { status: 403 } as never)
  const warnings = lines().filter((l) => String(l['msg']).includes('rate limit'))
  t.match(warnings.at(-1), { msg: 'GitHub primary rate limit', retry: false })
})
