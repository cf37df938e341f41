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

t.test("GitHub's 5xx are retried a bounded number of times; a rate limit is not: the lanes wait it out", async (t) => {
  const sim = await startSimulator(t)
  const { log } = capture()
  const GitHub = createOctokitClass({ apiUrl: sim.apiUrl, log: log as never, retries: 2, retryAfterBaseMs: 1 })
  const octokit = new GitHub({ auth: 'gho_legacy_mona_0001' })
  const tries = (): number => sim.state.apiLog.filter((e) => e.path === '/user').length

  sim.state.faults.errors = [{ method: '*', pattern: 'GET /user', status: 502, rate: 1 }]
  await t.rejects(octokit.request('GET /user'), { status: 502 } as never)
  t.equal(tries(), 3, 'tried three times in all')

  sim.state.faults.errors = [{ method: '*', pattern: 'GET /user', status: 429, rate: 1 }]
  await t.rejects(octokit.request('GET /user'), { status: 429 } as never)
  t.equal(tries(), 4, 'a 429 once: octokit does not retry it on its own')
})
