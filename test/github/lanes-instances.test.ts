import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import t, { type Test } from 'tap'
import { createGitHubClients, type GitHubClients } from '../../src/github/clients.js'
import { createGitHubLanes } from '../../src/github/lanes.js'
import { createOctokitClass } from '../../src/github/octokit.js'
import type { World } from '../../src/simulator/world.js'
import { testDatabase } from '../helpers/database.js'
import { anotherInstance, serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld, startSimulator, type StartedSimulator } from '../helpers/simulator.js'
import { settled, view } from '../helpers/wizard.js'

// Two instances of the service on one database, each with GitHub clients and lanes (a pool) of
// its own, asking GitHub at once with the same credentials, against GitHub's secondary limits:
// one request of a token in flight at a time, a few writes a minute.

const quiet = pino({ level: 'silent' })
const WRITES_PER_MINUTE = 12

function world(): World {
  const w = demoWorld()
  w.installations = [{ id: 500, account: 'mona', repository_selection: 'selected', repositories: [1000] }]
  return w
}

function clients(sim: StartedSimulator, GitHub: ReturnType<typeof createOctokitClass>): GitHubClients {
  const app = sim.state.app
  const config = { webUrl: sim.url, apiUrl: sim.apiUrl, appId: app.id, appSlug: app.slug, clientId: app.client_id, clientSecret: app.client_secret, privateKey: sim.privateKey, webhookSecret: app.webhook_secret }
  return createGitHubClients(config, GitHub)
}

/** What one instance asks at once: mona's reads and writes, octo's reads, the installation's and the App's. */
async function load(github: GitHubClients, instance: number): Promise<number[]> {
  const mona = github.asUser('gho_legacy_mona_0001')
  const octo = github.asUser('gho_legacy_octo_0003')
  const installation = await github.asInstallation(500)
  const status = (request: Promise<{ status: number }>): Promise<number> => request.then((r) => r.status).catch((e: { status: number }) => e.status)
  return Promise.all([
    ...[...Array(8).keys()].map(() => status(mona.request('GET /user'))),
    ...[...Array(4).keys()].map((n) => status(mona.request('DELETE /repos/{owner}/{repo}/hooks/{hook_id}', { owner: 'mona', repo: 'dotfiles', hook_id: 900_000 + instance * 10 + n }))),
    ...[...Array(4).keys()].map(() => status(octo.request('GET /user/repos'))),
    ...[...Array(4).keys()].map(() => status(installation.request('GET /installation/repositories'))),
    ...[...Array(4).keys()].map(() => status(github.asApp.request('GET /app/installations/{installation_id}', { installation_id: 500 }))),
  ])
}

async function limited(t: Test): Promise<StartedSimulator> {
  const sim = await startSimulator(t, world())
  sim.state.limits.concurrentPerToken = 1
  sim.state.limits.writesPerMinute = WRITES_PER_MINUTE
  sim.state.faults.latencyMs = 5
  return sim
}

const EXPECTED = [...Array(8).fill(200), ...Array(4).fill(404), ...Array(12).fill(200)]

t.test('two instances on one database, the same credentials at once: GitHub counts no breach of its limits', async (t) => {
  const sim = await limited(t)
  const tdb = await testDatabase(t)
  const instances = [1, 2].map(() => {
    const lanes = createGitHubLanes(tdb.pool, { writeSpacingMs: 20 }, quiet)
    t.teardown(() => lanes.close())
    return clients(sim, createOctokitClass({ apiUrl: sim.apiUrl, log: quiet, lanes, retries: 0 }))
  })
  const results = await Promise.all(instances.map((github, i) => load(github, i)))
  t.same(results, [EXPECTED, EXPECTED], 'every request answered, none refused for a limit')
  t.same(sim.state.breaches, { concurrent: 0, writes: 0, quota: 0, total: 0, last: [] })
  const tokens = sim.state.apiLog.filter((e) => e.method === 'POST' && /access_tokens$/.test(e.path)).length
  t.ok(tokens >= 1 && tokens <= 2, `installation tokens created with the App's JWT, in its lane (${tokens})`)
  const writes = sim.state.apiLog.filter((e) => e.method === 'DELETE').map((e) => e.at.getTime())
  t.equal(writes.length, 8)
  for (let i = 1; i < writes.length; i++) t.ok(writes[i]! - writes[i - 1]! >= 20, `mona's writes from both instances spaced: ${writes[i]! - writes[i - 1]!} ms`)
})

t.test('the same without lanes: GitHub counts breaches', async (t) => {
  const sim = await limited(t)
  const instances = [1, 2].map(() => clients(sim, createOctokitClass({ apiUrl: sim.apiUrl, log: quiet, retries: 0 })))
  await Promise.all(instances.map((github, i) => load(github, i)))
  t.ok(sim.state.breaches.concurrent > 0, `${sim.state.breaches.concurrent} requests refused for two of a token at once`)
})

t.test('two instances of the service on one database: mona and octo open the wizard on both at once, and GitHub counts no breach', async (t) => {
  const first = await serviceWithGitHub(t)
  const second = await anotherInstance(t, first)
  first.sim.state.limits.concurrentPerToken = 1
  first.sim.state.faults.latencyMs = 5
  const visits: { app: FastifyInstance; user: number }[] = []
  for (const app of [first.app, second]) for (const user of [1, 3]) visits.push({ app, user })
  const cookies = await Promise.all(visits.map(({ app, user }) => signIn(app, first.sim, user)))
  const pages = await Promise.all(visits.map(({ app }, i) => view(app, cookies[i]!)))
  t.same(pages.map((p) => p.statusCode), [200, 200, 200, 200])
  await settled(first)
  t.ok(first.sim.state.apiLog.filter((e) => e.actor === 'mona' && e.tokenKind === 'legacy').length > 2, "mona's legacy token was used from both instances")
  t.same(first.sim.state.breaches, { concurrent: 0, writes: 0, quota: 0, total: 0, last: [] })
})
