import { randomBytes } from 'node:crypto'
import { createServer, type AddressInfo } from 'node:net'
import path from 'node:path'
import { Readable } from 'node:stream'
import pg from 'pg'
import { connect, type Db } from './db/connect.js'
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded-postgres.js'
import { migrateToLatest } from './db/migrator.js'
import { importLegacyCsv } from './legacy/import.js'
import { legacyCsvFromWorld } from './legacy/world-seed.js'
import { projectRoot } from './project-root.js'
import { buildServer } from './server.js'
import { buildSimulator, type Simulator } from './simulator/server.js'
import { loadWorld, type World } from './simulator/world.js'
import type { GitHubConfig, LegacyConfig, StaffRole } from './config.js'

// `npm run demo`: the service with the demo world's legacy data, on an embedded Postgres kept
// in .data/ between runs, or on a database of its own on the DATABASE_URL server.

export const DEMO_DATABASE = 'oauth_to_app_demo'

export interface DemoOptions {
  port: number
  host: string
  /** A Postgres server to create the demo database on; absent: embedded Postgres. */
  serverUrl?: string
  /** The embedded Postgres' data, when there is no serverUrl. */
  dataDir: string
  worldFile?: string
  logLevel?: string
  /** The database created on the server; tests use throwaway names. */
  database?: string
  /** Where the simulated GitHub listens (the demo world's app expects the service on 3000). */
  githubPort: number
}

export interface Demo {
  url: string
  /** The simulated GitHub's web side (its API is at /api/v3). */
  githubUrl: string
  world: string
  /** Who can sign in on the simulated GitHub. */
  users: string[]
  close(): Promise<void>
}

export function defaultDataDir(): string {
  return path.join(projectRoot(), '.data', 'postgres-demo')
}

export function defaultWorldFile(): string {
  return path.join(projectRoot(), 'src', 'simulator', 'worlds', 'demo.json')
}

/** The database `name` on the server at `serverUrl`, created when missing. */
async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name])
    if (rowCount === 0) await client.query(`create database ${name}`)
  } finally {
    await client.end()
  }
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}

async function seedLegacy(db: Db, world: World, worldFile: string): Promise<void> {
  const problems: string[] = []
  const result = await importLegacyCsv(db.pool, Readable.from([legacyCsvFromWorld(world)]), {
    fileName: path.basename(worldFile),
    onProblem: (p) => problems.push(`line ${p.line}: ${p.reason}`),
  })
  if (result.status === 'rejected') throw new Error(`the legacy registrations of ${worldFile} are invalid: ${problems.join('; ')}`)
}

/** The base URL a browser on this machine uses for a server listening on host:port. */
export function localUrl(host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host
  return `http://${name}:${port}`
}

/**
 * A port free on `host` now, for --port 0: the simulated GitHub must know the service's URL
 * (where its redirects and webhooks go) before either of them listens.
 */
async function freePort(host: string): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, resolve)
  })
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * The world's app sends its OAuth callback, setup redirect and webhooks to the service of this
 * demo, wherever it listens (the demo world names http://localhost:3000).
 */
function pointAppAt(world: World, publicUrl: string): void {
  world.app.callback_url = `${publicUrl}/auth/callback`
  world.app.setup_url = `${publicUrl}/github/setup`
  world.app.webhook_url = `${publicUrl}/github/webhooks`
}

/** The demo's vendor receiver authenticates with this to GET /legacy/hooks/{hook_id}; shown in the README. */
/** The demo's own staff, users of the demo world: sam answers questions, olga runs the migration. */
export const DEMO_STAFF: ReadonlyMap<string, StaffRole> = new Map([
  ['sam', 'support'],
  ['olga', 'operator'],
])

export const DEMO_RECEIVER_SECRET = 'demo-legacy-receiver-secret-not-for-production'

/** What the service knows of the world's legacy OAuth App: its hook URL and, when the world has them, its credentials. */
export function legacyConfigOf(world: Pick<World, 'legacy_oauth_app'>, receiverSecret?: string): LegacyConfig {
  const legacy = world.legacy_oauth_app
  return {
    // A world without one names no hook as the legacy app's: nothing is ever deleted.
    hookUrl: legacy.hook_url ?? 'https://legacy-hook-url.invalid/',
    ...(legacy.client_secret === undefined ? {} : { oauthApp: { clientId: legacy.client_id, clientSecret: legacy.client_secret } }),
    ...(receiverSecret === undefined ? {} : { receiverSecret }),
  }
}

/** The simulated GitHub the demo's service talks to, from the same world file. */
async function startGitHub(world: World, privateKey: string | undefined, host: string, port: number): Promise<{ sim: Simulator; github: GitHubConfig; url: string }> {
  const sim = await buildSimulator({ world, privateKey })
  await sim.app.listen({ port, host })
  const url = localUrl(host, (sim.app.server.address() as AddressInfo).port)
  const github: GitHubConfig = {
    webUrl: url,
    apiUrl: `${url}/api/v3`,
    appId: world.app.id,
    appSlug: world.app.slug,
    clientId: world.app.client_id,
    clientSecret: world.app.client_secret,
    privateKey: sim.keys.privateKey,
    webhookSecret: world.app.webhook_secret,
  }
  return { sim, github, url }
}

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const worldFile = options.worldFile ?? defaultWorldFile()
  let embedded: EmbeddedPostgres | undefined
  let db: Db | undefined
  let github: Awaited<ReturnType<typeof startGitHub>> | undefined
  let app: Awaited<ReturnType<typeof buildServer>> | undefined
  try {
    const { world, privateKey } = await loadWorld(worldFile)
    let serverUrl = options.serverUrl
    if (serverUrl === undefined) {
      embedded = await startEmbeddedPostgres({ dataDir: options.dataDir, persistent: true })
      serverUrl = embedded.url
    }
    db = connect(await ensureDatabase(serverUrl, options.database ?? DEMO_DATABASE), { applicationName: 'oauth-to-app demo' })
    await migrateToLatest(db.db)
    await seedLegacy(db, world, worldFile)
    const port = options.port === 0 ? await freePort(options.host) : options.port
    const publicUrl = localUrl(options.host, port)
    pointAppAt(world, publicUrl)
    github = await startGitHub(world, privateKey, options.host, options.githubPort)
    // A new secret each run: demo sessions end with the demo.
    const sessionSecret = randomBytes(32).toString('hex')
    app = await buildServer({ db, logLevel: options.logLevel ?? 'warn', publicUrl, secureCookies: false, staff: DEMO_STAFF, sessionSecret, github: github.github, legacy: legacyConfigOf(world, DEMO_RECEIVER_SECRET) })
    await app.listen({ port, host: options.host })
    const openApp = app
    const openDb = db
    const sim = github.sim
    return {
      url: publicUrl,
      githubUrl: github.url,
      world: worldFile,
      users: world.users.map((u) => u.login),
      async close() {
        await openApp.close()
        await sim.app.close()
        await openDb.close()
        await embedded?.stop()
      },
    }
  } catch (error) {
    // A port in use fails the listen after the app started its job queue on the pool.
    await app?.close()
    await github?.sim.app.close()
    await db?.close()
    await embedded?.stop()
    throw error
  }
}
