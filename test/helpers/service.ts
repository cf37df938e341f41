import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { connect } from '../../src/db/connect.js'
import { createGitHubClients, type GitHubClients } from '../../src/github/clients.js'
import type { GitHubLanes } from '../../src/github/lanes.js'
import { createOctokitClass } from '../../src/github/octokit.js'
import type { Test } from 'tap'
import { importLegacyCsv } from '../../src/legacy/import.js'
import { legacyCsvFromWorld } from '../../src/legacy/world-seed.js'
import type { GitHubConfig } from '../../src/config.js'
import { legacyConfigOf } from '../../src/demo.js'
import type { ServerOptions } from '../../src/server.js'
import type { World } from '../../src/simulator/world.js'
import { testDatabase, type TestDatabase } from './database.js'
import { testServer } from './server.js'
import { demoWorld, startSimulator, type StartedSimulator } from './simulator.js'

export interface Service {
  app: FastifyInstance
  sim: StartedSimulator
  tdb: TestDatabase
}

/**
 * The service against a simulated GitHub, both sides seeded from one world, as the demo is
 * (`seedLegacy: false`: the legacy tables left empty, for a test that fills them itself;
 * `poolMax`: the service's database connections, 5 unless a test needs production's 10;
 * `server`: a Postgres server of the test's own, for its database).
 */
export async function serviceWithGitHub(
  t: Test,
  world: World = demoWorld(),
  overrides: Partial<ServerOptions> = {},
  { seedLegacy = true, poolMax = 5, server }: { seedLegacy?: boolean; poolMax?: number; server?: string } = {},
): Promise<Service> {
  const sim = await startSimulator(t, world)
  const tdb = await testDatabase(t, { max: poolMax, ...(server === undefined ? {} : { server }) })
  if (seedLegacy) {
    const seeded = await importLegacyCsv(tdb.pool, Readable.from([legacyCsvFromWorld(world)]), { fileName: 'world', onProblem: () => {} })
    if (seeded.status !== 'imported') throw new Error("the test world's legacy registrations are invalid")
  }
  const app = await serviceInstance(t, sim, tdb, overrides)
  // GitHub's webhooks reach the service as they would in production: over HTTP.
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  sim.state.app.webhook_url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/github/webhooks`
  return { app, sim, tdb }
}

/** One instance of the service on `tdb` against `sim`, configured as serviceWithGitHub's. */
async function serviceInstance(t: Test, sim: StartedSimulator, tdb: TestDatabase, overrides: Partial<ServerOptions>): Promise<FastifyInstance> {
  return testServer(t, tdb, {
    publicUrl: 'http://localhost:3000',
    github: {
      ...githubConfigOf(sim),
      // Writes of one credential spaced as in production, but a few ms apart.
      writeSpacingMs: 5,
    },
    legacy: legacyConfigOf({ legacy_oauth_app: sim.state.legacyApp }, TEST_RECEIVER_SECRET),
    // GitHub's failures are retried as in production, but a few ms apart.
    githubRetryAfterBaseMs: 5,
    ...overrides,
    // GitHub's seconds and minutes of rate-limit waits are a few ms here, whatever else a test tunes.
    githubLanes: { retryAfterUnitMs: 5, secondaryParkMs: 20, maxSecondaryParkMs: 200, ...overrides.githubLanes },
  })
}

/**
 * A second instance of `service`'s service: the same database and simulated GitHub, lanes and
 * pools of its own (`poolMax`: and its own pool of the service's connections, as a second
 * process has, rather than the first one's).
 */
export async function anotherInstance(t: Test, service: Service, overrides: Partial<ServerOptions> = {}, { poolMax }: { poolMax?: number } = {}): Promise<FastifyInstance> {
  if (poolMax === undefined) return serviceInstance(t, service.sim, service.tdb, overrides)
  const db = connect(service.tdb.url, { max: poolMax })
  // Registered before the instance's own close, which runs first (teardowns run last-first).
  t.teardown(() => db.close())
  return serviceInstance(t, service.sim, service.tdb, { db, ...overrides })
}

/** The receiver secret of the test services' GET /legacy/hooks/{hook_id}. */
export const TEST_RECEIVER_SECRET = 'a-test-receiver-secret-of-32-characters-at-least'

function githubConfigOf(sim: StartedSimulator): GitHubConfig {
  const app = sim.state.app
  return {
    webUrl: sim.url,
    apiUrl: sim.apiUrl,
    appId: app.id,
    appSlug: app.slug,
    clientId: app.client_id,
    clientSecret: app.client_secret,
    privateKey: sim.privateKey,
    webhookSecret: app.webhook_secret,
  }
}

/** The service's ways to GitHub, for tests that call the domain directly; quiet, retrying as told, through `lanes` if given. */
export function githubClientsOf(service: Pick<Service, 'sim'>, options: { retries?: number; retryAfterBaseMs?: number; lanes?: GitHubLanes } = {}): GitHubClients {
  const { sim } = service
  return createGitHubClients(githubConfigOf(sim), createOctokitClass({ apiUrl: sim.apiUrl, log: pino({ level: 'silent' }), ...options }))
}
