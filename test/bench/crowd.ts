import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { connect } from '../../src/db/connect.js'
import { migrateToLatest } from '../../src/db/migrator.js'
import { importLegacyCsv } from '../../src/legacy/import.js'
import { legacyCsvFromWorld } from '../../src/legacy/world-seed.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { benchServer } from './bench-server.js'
import { buildSimulator } from '../../src/simulator/server.js'
import { answers, breachesOf, counted, strictGitHub } from '../helpers/crowd.js'
import type { StartedSimulator } from '../helpers/simulator.js'
import { signIn } from '../helpers/sign-in.js'
import { crowdWorld, type CrowdSize } from './crowd-world.js'

// Many vendor users planning at once through two service instances on one database, against
// the simulator with its secondary limits at their strictest (one request in flight per
// credential): every user signs in on one instance and waits for their plan on the other.
// Counts the pages that failed (5xx) and the breaches the simulator saw; both must be 0.

export interface CrowdFigures {
  users: number
  instances: number
  wallMs: number
  /** Time from a user's first /migrate to their finished plan. */
  planP50Ms: number
  planP99Ms: number
  pages: number
  serverErrors: number
  githubRequests: number
  breaches: { concurrent: number; writes: number; quota: number; total: number }
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0

export async function benchCrowd(databaseUrl: string, size?: Partial<CrowdSize>, latencyMs = 20): Promise<CrowdFigures> {
  const world = crowdWorld({ users: 200, orgs: 10, personalRepos: 3, orgReposPerUser: 2, ...size })
  const simulator = await buildSimulator({ logLevel: 'silent', world: structuredClone(world) })
  await simulator.app.listen({ host: '127.0.0.1', port: 0 })
  const address = simulator.app.server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  const sim: StartedSimulator = { url, apiUrl: `${url}/api/v3`, sim: simulator, state: simulator.state, privateKey: simulator.keys.privateKey, close: async () => simulator.app.close() }
  strictGitHub(sim, latencyMs)

  const db = connect(databaseUrl, { max: 20 })
  const instances: FastifyInstance[] = []
  try {
    await migrateToLatest(db.db)
    const seeded = await importLegacyCsv(db.pool, Readable.from([legacyCsvFromWorld(world)]), { fileName: 'crowd', onProblem: () => {} })
    if (seeded.status !== 'imported') throw new Error('the crowd world does not import')
    for (let i = 0; i < 2; i++) {
      const app = await benchServer(db, world, sim.url, sim.privateKey, { githubRetryAfterBaseMs: 5, rateLimitPerMinute: 100_000 })
      await app.ready()
      instances.push(app)
    }
    const seen = answers()
    const started = performance.now()
    const planMs = await Promise.all(
      world.users.map(async (user, i) => {
        const here = counted(instances[i % 2]!, seen)
        const there = counted(instances[(i + 1) % 2]!, seen)
        const cookie = await signIn(here, sim, user.id)
        const from = performance.now()
        // A page under way refreshes itself every 2 s, as this loop does; the plan is there once
        // it no longer does.
        for (;;) {
          const page = await there.inject({ url: '/migrate', cookies: { [SESSION_COOKIE]: cookie } })
          if (page.statusCode !== 200 || !page.body.includes('http-equiv="refresh"')) break
          await new Promise((resolve) => setTimeout(resolve, 2_000))
        }
        return performance.now() - from
      }),
    )
    const wallMs = performance.now() - started
    const sorted = planMs.sort((a, b) => a - b)
    return {
      users: world.users.length,
      instances: instances.length,
      wallMs,
      planP50Ms: percentile(sorted, 50),
      planP99Ms: percentile(sorted, 99),
      pages: seen.total,
      serverErrors: seen.serverErrors,
      githubRequests: sim.state.apiLog.length,
      breaches: breachesOf(sim),
    }
  } finally {
    for (const app of instances) await app.close()
    await db.close()
    await sim.close()
  }
}
