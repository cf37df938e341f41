import { fork } from 'node:child_process'
import { rm, stat } from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { App, Octokit } from 'octokit'
import { buildSimulator } from '../../src/simulator/server.js'
import { loadWorld } from '../../src/simulator/world.js'
import { benchWorld, writeBenchWorld, type BenchWorld } from './simulator-world.js'
import type { SummaryRow } from './summary.js'

// The simulator must never be what slows a test or a demo down (issue 3, point 7):
//  (a) start-up: a world of 50,000 repositories and 100,000 hooks, read from its file,
//      validated, turned into state and listening, in under 5 s;
//  (b) throughput: at least 2,000 authenticated API requests a second, for the mix the
//      service sends during a migration.
// The load generator is this same file run as a child process, so the simulator's event loop
// does not also drive the client. The machine has 2 cores: the simulator takes one, the load
// generator the other, and both share them with GC threads and the kernel's loopback work, so
// the figure is a floor for the simulator, not its ceiling. The CPU time each process used is
// printed to show how close to saturation each side was.

export interface BenchRequest {
  kind: string
  path: string
  token: string
}

interface LoadJob {
  origin: string
  requests: BenchRequest[]
  concurrency: number
  warmupRequests: number
  maxRequests: number
  maxSeconds: number
}

interface LoadResult {
  requests: number
  seconds: number
  statuses: Record<string, number>
  byKind: Record<string, { count: number; p50: number; p99: number }>
  p50: number
  p99: number
  cpuMs: number
  responseBytes: number
}

export interface SimulatorFigures {
  worldMb: number
  counts: { users: number; orgs: number; repos: number; hooks: number; installations: number }
  loadWorldMs: number
  buildMs: number
  listenMs: number
  startMs: number
  load: LoadResult
  /** Each kind alone, cycling over its requests: where the time goes. */
  perKind: Record<string, LoadResult>
  rps: number
  simulatorCpuMs: number
  nonOkShare: number
  peakRssMb: number
}

const WARMUP = 2000

export const TARGETS = { startMs: 5000, rps: 2000, nonOkShare: 0.01 }

const percentile = (sorted: number[], p: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!)

/** The child's side: keep-alive requests from a fixed pool of connections, bounded in count and time. */
async function generateLoad(job: LoadJob): Promise<LoadResult> {
  const url = new URL(job.origin)
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency })
  const send = (request: BenchRequest): Promise<{ status: number; bytes: number }> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: request.path,
          headers: {
            authorization: `token ${request.token}`,
            accept: 'application/vnd.github+json',
            'x-github-api-version': '2022-11-28',
            'user-agent': 'oauth-to-app-bench',
          },
        },
        (res) => {
          let bytes = 0
          res.on('data', (chunk: Buffer) => (bytes += chunk.length))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }))
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end()
    })

  let next = 0
  const take = (): BenchRequest => job.requests[next++ % job.requests.length]!
  // Warm-up: JIT and connection set-up, not counted.
  const warm = async (): Promise<void> => {
    while (next < job.warmupRequests) await send(take())
  }
  await Promise.all(Array.from({ length: job.concurrency }, warm))

  const latencies: number[] = []
  const kindLatencies = new Map<string, number[]>()
  const statuses: Record<string, number> = {}
  let responseBytes = 0
  let issued = 0
  let done = 0
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const deadline = started + job.maxSeconds * 1000
  const worker = async (): Promise<void> => {
    while (issued < job.maxRequests && performance.now() < deadline) {
      issued++
      const request = take()
      const t0 = performance.now()
      const { status, bytes } = await send(request)
      const ms = performance.now() - t0
      done++
      responseBytes += bytes
      latencies.push(ms)
      let list = kindLatencies.get(request.kind)
      if (list === undefined) kindLatencies.set(request.kind, (list = []))
      list.push(ms)
      statuses[status] = (statuses[status] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: job.concurrency }, worker))
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  agent.destroy()
  latencies.sort((a, b) => a - b)
  const byKind: LoadResult['byKind'] = {}
  for (const [kind, list] of kindLatencies) {
    list.sort((a, b) => a - b)
    byKind[kind] = { count: list.length, p50: percentile(list, 0.5), p99: percentile(list, 0.99) }
  }
  return {
    requests: done,
    seconds,
    statuses,
    byKind,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    cpuMs: (cpu.user + cpu.system) / 1000,
    responseBytes,
  }
}

function runLoadGenerator(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--load-generator'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let result: LoadResult | undefined
    child.on('message', (message: { result?: LoadResult; error?: string }) => {
      if (message.error !== undefined) reject(new Error(`load generator: ${message.error}`))
      else result = message.result
    })
    child.on('error', reject)
    child.on('exit', (code) => (result ? resolve(result) : reject(new Error(`load generator exited with ${code} and no result`))))
    child.send(job)
  })
}

const KINDS = {
  installationRepos: 'GET /installation/repositories (installation token)',
  userRepos: 'GET /user/repos (legacy token)',
  repository: 'GET /repositories/{id} (legacy token)',
  hooks: 'GET /repos/{o}/{r}/hooks (legacy token)',
}

/**
 * What the service sends while it takes stock of each user, in its order: the user's
 * repositories (one page at this world's sizes), then each repository by id (it may have been
 * renamed since the legacy record) and its hooks; now and then a page of an installation's
 * repositories, as setup callbacks arrive. Every user appears once, so the simulator's
 * per-user caches start cold, as they would in a real migration.
 */
function serviceLikeRequests(users: BenchWorld['index']['legacyUsers'], installationTokens: { token: string; pages: number }[]): BenchRequest[] {
  const requests: BenchRequest[] = []
  for (const [i, user] of users.entries()) {
    requests.push({ kind: KINDS.userRepos, path: '/api/v3/user/repos?per_page=100&page=1', token: user.token })
    for (const repo of user.repos.slice(0, 2)) {
      requests.push({ kind: KINDS.repository, path: `/api/v3/repositories/${repo.id}`, token: user.token })
      requests.push({ kind: KINDS.hooks, path: `/api/v3/repos/${user.login}/${repo.name}/hooks`, token: user.token })
    }
    if (i % 2 === 0) {
      const installation = installationTokens[(i / 2) % installationTokens.length]!
      const page = 1 + (Math.floor(i / 2 / installationTokens.length) % installation.pages)
      requests.push({ kind: KINDS.installationRepos, path: `/api/v3/installation/repositories?per_page=100&page=${page}`, token: installation.token })
    }
  }
  return requests
}

export interface SimulatorBenchOptions {
  repos?: number
  hooks?: number
  /** Upper bounds of the throughput run. */
  maxSeconds?: number
  maxRequests?: number
  concurrency?: number
}

export async function benchSimulator(workDir: string, options: SimulatorBenchOptions = {}): Promise<SimulatorFigures> {
  const { world, index } = benchWorld({ repos: options.repos ?? 50_000, hooks: options.hooks ?? 100_000 })
  const file = path.join(workDir, `simulator-world-${world.repos.length}.json`)
  await writeBenchWorld(file, world)
  const worldMb = (await stat(file)).size / 2 ** 20
  let peakRss = process.memoryUsage().rss
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50)
  try {
    // (a) start-up, from the file to a listening port.
    const t0 = performance.now()
    const loaded = await loadWorld(file)
    const t1 = performance.now()
    const sim = await buildSimulator({ world: loaded.world, ...(loaded.privateKey === undefined ? {} : { privateKey: loaded.privateKey }), logLevel: 'silent' })
    const t2 = performance.now()
    await sim.app.listen({ host: '127.0.0.1', port: 0 })
    const t3 = performance.now()
    const address = sim.app.server.address()
    const origin = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
    try {
      // (b) throughput. Installation tokens come the way the service gets them: octokit's App
      // with the app's JWT. Quotas stay on (GitHub's 5,000 an hour per token), so the mix
      // spreads over enough tokens to stay under them.
      const app = new App({ appId: world.app.id, privateKey: sim.keys.privateKey, Octokit: Octokit.defaults({ baseUrl: `${origin}/api/v3` }) })
      const installations = index.installations.filter((i) => i.repositories > 0).slice(0, 40)
      const installationTokens: { token: string; pages: number }[] = []
      for (const installation of installations) {
        const { data } = await app.octokit.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: installation.id })
        installationTokens.push({ token: data.token, pages: Math.ceil(installation.repositories / 100) })
      }
      const requests = serviceLikeRequests(index.legacyUsers, installationTokens)
      const simCpuBefore = process.cpuUsage()
      const load = await runLoadGenerator({
        origin,
        requests,
        concurrency: options.concurrency ?? 32,
        warmupRequests: WARMUP,
        // Each request once: a second lap would only measure warm caches.
        maxRequests: Math.min(options.maxRequests ?? Infinity, requests.length - WARMUP),
        maxSeconds: options.maxSeconds ?? 10,
      })
      const simCpu = process.cpuUsage(simCpuBefore)
      const perKind: Record<string, LoadResult> = {}
      for (const kind of Object.values(KINDS)) {
        perKind[kind] = await runLoadGenerator({
          origin,
          requests: requests.filter((r) => r.kind === kind),
          concurrency: options.concurrency ?? 32,
          warmupRequests: 200,
          maxRequests: options.maxRequests ?? 1_000_000,
          maxSeconds: Math.min(3, options.maxSeconds ?? 3),
        })
      }
      const ok = Object.entries(load.statuses).reduce((n, [status, count]) => n + (/^2/.test(status) ? count : 0), 0)
      return {
        worldMb,
        counts: {
          users: world.users.length,
          orgs: world.orgs?.length ?? 0,
          repos: world.repos.length,
          hooks: world.repos.reduce((n, r) => n + (r.hooks?.length ?? 0), 0) + (world.orgs ?? []).reduce((n, o) => n + (o.hooks?.length ?? 0), 0),
          installations: world.installations?.length ?? 0,
        },
        loadWorldMs: t1 - t0,
        buildMs: t2 - t1,
        listenMs: t3 - t2,
        startMs: t3 - t0,
        load,
        perKind,
        rps: load.requests / load.seconds,
        simulatorCpuMs: (simCpu.user + simCpu.system) / 1000,
        nonOkShare: load.requests === 0 ? 1 : 1 - ok / load.requests,
        peakRssMb: peakRss / 2 ** 20,
      }
    } finally {
      await sim.app.close()
    }
  } finally {
    clearInterval(sampler)
    await rm(file, { force: true })
  }
}

/** The lines `npm run bench` prints, and whether every target was met. */
export function simulatorReport(f: SimulatorFigures): { text: string; ok: boolean } {
  const ms = (n: number): string => `${Math.round(n).toLocaleString('en-US')} ms`
  const n = (x: number): string => x.toLocaleString('en-US')
  const cpuShare = (cpuMs: number): string => `${Math.round((cpuMs / (f.load.seconds * 1000)) * 100)}% of a core`
  const statuses = Object.entries(f.load.statuses).map(([s, c]) => `${s}: ${n(c)}`).join(', ')
  const lines = [
    `simulator, ${n(f.counts.repos)} repos, ${n(f.counts.hooks)} hooks, ${n(f.counts.users)} users, ${n(f.counts.orgs)} orgs, ${n(f.counts.installations)} installations (${f.worldMb.toFixed(0)} MB world file)`,
    `  start-up: loadWorld ${ms(f.loadWorldMs)} + buildSimulator ${ms(f.buildMs)} + listen ${ms(f.listenMs)} = ${ms(f.startMs)} (target < ${ms(TARGETS.startMs)})`,
    `  throughput: ${n(f.load.requests)} requests in ${f.load.seconds.toFixed(2)} s, ${n(Math.round(f.rps))} requests/s (target >= ${n(TARGETS.rps)}), keep-alive, ${f.load.p50.toFixed(1)} ms p50, ${f.load.p99.toFixed(1)} ms p99`,
    ...Object.entries(f.load.byKind).map(([kind, k]) => `    ${kind.padEnd(54)} ${n(k.count).padStart(7)}  p50 ${k.p50.toFixed(1)} ms  p99 ${k.p99.toFixed(1)} ms`),
    '  each kind alone, cycling over its requests (not a target; shows where the time goes):',
    ...Object.entries(f.perKind).map(([kind, k]) => `    ${kind.padEnd(54)} ${n(Math.round(k.requests / k.seconds)).padStart(7)} requests/s  p50 ${k.p50.toFixed(1)} ms  ${Object.keys(k.statuses).join(',')}`),
    `  statuses: ${statuses} (non-2xx: ${(f.nonOkShare * 100).toFixed(2)}%, target < ${TARGETS.nonOkShare * 100}%)`,
    `  CPU during the run: simulator ${cpuShare(f.simulatorCpuMs)}, load generator (separate process) ${cpuShare(f.load.cpuMs)}; ${(f.load.responseBytes / 2 ** 20).toFixed(0)} MB of responses`,
    `  peak RSS of the simulator's process: ${f.peakRssMb.toFixed(0)} MB`,
  ]
  const ok = f.startMs < TARGETS.startMs && f.rps >= TARGETS.rps && f.nonOkShare < TARGETS.nonOkShare
  return { text: `${lines.join('\n')}\n`, ok }
}

if (process.argv.includes('--load-generator') && process.send !== undefined) {
  process.once('message', (job: LoadJob) => {
    generateLoad(job).then(
      (result) => process.send!({ result }, () => process.disconnect()),
      (error: unknown) => process.send!({ error: error instanceof Error ? error.message : String(error) }, () => process.disconnect()),
    )
  })
}

export function simulatorRows(f: SimulatorFigures): SummaryRow[] {
  return [
    {
      what: `the GitHub simulator: start-up with ${f.counts.repos.toLocaleString('en-US')} repositories and ${f.counts.hooks.toLocaleString('en-US')} hooks; authenticated API requests a second (the service's mix)`,
      measured: `start-up **${(f.startMs / 1000).toFixed(2)} s**; **${Math.round(f.rps).toLocaleString('en-US')} requests/s**, ${(f.nonOkShare * 100).toFixed(2)}% non-2xx`,
      goal: `under ${TARGETS.startMs / 1000} s; at least ${TARGETS.rps.toLocaleString('en-US')}/s; under ${TARGETS.nonOkShare * 100}% non-2xx`,
      met: simulatorReport(f).ok,
    },
  ]
}
