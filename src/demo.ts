import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
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
import type { GitHubConfig } from './config.js'

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

/** The simulated GitHub the demo's service talks to, from the same world file. */
async function startGitHub(world: World, privateKey: string | undefined, host: string, port: number): Promise<{ sim: Simulator; github: GitHubConfig; url: string }> {
  const sim = await buildSimulator({ world, privateKey })
  await sim.app.listen({ port, host })
  const url = `http://${host}:${(sim.app.server.address() as AddressInfo).port}`
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
    github = await startGitHub(world, privateKey, options.host, options.githubPort)
    const publicUrl = `http://${options.host}:${options.port}`
    // A new secret each run: demo sessions end with the demo.
    const sessionSecret = randomBytes(32).toString('hex')
    const app = await buildServer({ db, logLevel: options.logLevel ?? 'warn', publicUrl, secureCookies: false, staffPagesOpen: true, sessionSecret, github: github.github })
    await app.listen({ port: options.port, host: options.host })
    // The port actually bound, for --port 0.
    const { port } = app.server.address() as AddressInfo
    const openDb = db
    const sim = github.sim
    return {
      url: `http://${options.host}:${port}`,
      githubUrl: github.url,
      world: worldFile,
      users: world.users.map((u) => u.login),
      async close() {
        await app.close()
        await sim.app.close()
        await openDb.close()
        await embedded?.stop()
      },
    }
  } catch (error) {
    await github?.sim.app.close()
    await db?.close()
    await embedded?.stop()
    throw error
  }
}
