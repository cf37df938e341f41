import { createSign, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import pg from 'pg'
import { connect } from '../../src/db/connect.js'
import { migrateToLatest } from '../../src/db/migrator.js'
import { importLegacyCsv } from '../../src/legacy/import.js'
import { legacyCsvFromWorld } from '../../src/legacy/world-seed.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { benchServer } from './bench-server.js'
import type { ApiLogEntry } from '../../src/simulator/state.js'
import { buildSimulator } from '../../src/simulator/server.js'
import { manyReposWorld } from '../helpers/many-repos-world.js'
import { TEST_SESSION_SECRET } from '../helpers/server.js'
import { signIn } from '../helpers/sign-in.js'
import type { StartedSimulator } from '../helpers/simulator.js'
import type { SummaryRow } from './summary.js'

// Issue 9, part 5: a user with 2,000 repositories over 40 owners, GitHub answering every request
// 50 ms late. The wizard page must answer at once (under 200 ms) with progress, and planning, a
// background job, must finish within 1.2 times what its GitHub requests alone take one after
// another. That baseline is measured, not assumed: the very requests the job made (from the
// simulator's log) are made again, serially, by a plain HTTP client with the same credentials.

export interface PlanFigures {
  repos: number
  owners: number
  latencyMs: number
  /** The first visit to /migrate, over HTTP: the progress page. */
  pageMs: number
  pageShows: string
  /** Distinct progress lines the page's script would have shown. */
  progress: string[]
  /** From the first visit until the progress endpoint says planning is done. */
  planningMs: number
  requests: number
  byKind: Record<string, number>
  /** The same requests again, one after another, by a plain client. */
  serialMs: number
  ratio: number
}

const REPOS = 2_000
const OWNERS = 40
const LATENCY_MS = 50

/** A JWT for the App, as GitHub wants it (RS256, issued a minute ago, ten minutes' life at most). */
function appJwt(appId: number, privateKey: string): string {
  const now = Math.floor(Date.now() / 1000)
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const body = `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ iat: now - 60, exp: now + 540, iss: appId })}`
  return `${body}.${createSign('RSA-SHA256').update(body).sign(privateKey, 'base64url')}`
}

export async function benchPlanProgress(serverUrl: string): Promise<PlanFigures> {
  const world = manyReposWorld({ repos: REPOS, owners: OWNERS })
  const sim = await buildSimulator({ logLevel: 'silent', world })
  await sim.app.listen({ host: '127.0.0.1', port: 0 })
  const simUrl = `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}`
  const apiUrl = `${simUrl}/api/v3`

  const name = `bench_plan_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  await admin.query(`create database ${name}`)
  // (Not test/helpers/database.ts: it loads tap, which would take this process for a test.)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const db = connect(url.toString())
  const app = await benchServer(db, world, simUrl, sim.keys.privateKey, { sessionSecret: TEST_SESSION_SECRET })
  try {
    await migrateToLatest(db.db)
    const seeded = await importLegacyCsv(db.pool, Readable.from([legacyCsvFromWorld(world)]), { fileName: 'bench', onProblem: () => {} })
    if (seeded.status !== 'imported') throw new Error('the benchmark world does not import')
    await app.listen({ host: '127.0.0.1', port: 0 })
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
    const cookie = await signIn(app, { state: sim.state } as StartedSimulator, 1)
    const headers = { cookie: `${SESSION_COOKIE}=${cookie}` }

    sim.state.faults.latencyMs = LATENCY_MS
    const logged = sim.state.apiLog.length
    const started = performance.now()
    const page = await fetch(`${base}/migrate`, { headers })
    const body = await page.text()
    const pageMs = performance.now() - started
    const pageShows = /data-progress>([^<]*)</.exec(body)?.[1] ?? `no progress on the page (HTTP ${page.status})`

    const progress: string[] = []
    let planningMs = 0
    for (;;) {
      const now = (await (await fetch(`${base}/migrate/progress`, { headers: { ...headers, accept: 'application/json' } })).json()) as { underWay: boolean; text: string | null }
      if (!now.underWay) {
        planningMs = performance.now() - started
        break
      }
      if (now.text !== null && progress.at(-1) !== now.text) {
        progress.push(now.text)
        if (process.env['BENCH_TRACE'] !== undefined) process.stderr.write(`${Math.round(performance.now() - started)} ms ${now.text}\n`)
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const made: ApiLogEntry[] = sim.state.apiLog.slice(logged)
    const byKind: Record<string, number> = {}
    for (const entry of made) byKind[entry.tokenKind] = (byKind[entry.tokenKind] ?? 0) + 1

    // The same requests, one after another. The log keeps paths without their query: the n-th
    // page of a list is asked for as page n, as octokit's paginate did.
    const legacyToken = world.users[0]!.legacy_token!
    const jwt = appJwt(world.app.id, sim.keys.privateKey)
    const pages = new Map<string, number>()
    const serialStart = performance.now()
    for (const entry of made) {
      const page = (pages.get(entry.path) ?? 0) + 1
      pages.set(entry.path, page)
      const list = entry.path === '/user/repos' || entry.path === '/user/orgs'
      const auth = entry.tokenKind === 'jwt' ? `Bearer ${jwt}` : `token ${legacyToken}`
      if (entry.tokenKind !== 'jwt' && entry.tokenKind !== 'legacy') throw new Error(`planning used a ${entry.tokenKind} token: the baseline cannot replay it`)
      const res = await fetch(`${apiUrl}${entry.path}${list ? `?per_page=100&page=${page}` : ''}`, { method: entry.method, headers: { authorization: auth, accept: 'application/vnd.github+json' } })
      await res.arrayBuffer()
      if (res.status !== entry.status) throw new Error(`${entry.method} ${entry.path} answered ${res.status} again, ${entry.status} to the job`)
    }
    const serialMs = performance.now() - serialStart
    return { repos: REPOS, owners: OWNERS, latencyMs: LATENCY_MS, pageMs, pageShows, progress, planningMs, requests: made.length, byKind, serialMs, ratio: planningMs / serialMs }
  } finally {
    await app.close()
    await sim.app.close()
    await db.close()
    await admin.query(`drop database if exists ${name} with (force)`)
    await admin.end()
  }
}

export function planReport(f: PlanFigures): { text: string; ok: boolean } {
  const ms = (n: number): string => `${Math.round(n).toLocaleString('en-US')} ms`
  const ok = f.pageMs < 200 && f.ratio <= 1.2
  const shown = f.progress.length <= 8 ? f.progress : [...f.progress.slice(0, 4), '...', ...f.progress.slice(-3)]
  return {
    ok,
    text: [
      `planning, ${f.repos.toLocaleString('en-US')} repositories over ${f.owners} owners, GitHub ${f.latencyMs} ms late`,
      `  first visit to /migrate: ${ms(f.pageMs)} (target < 200 ms), showing "${f.pageShows}"`,
      `  progress seen: ${shown.join(' | ')}`,
      `  planning (job), first visit to done: ${ms(f.planningMs)}`,
      `  its ${f.requests} GitHub requests (${Object.entries(f.byKind).map(([k, n]) => `${k} ${n}`).join(', ')}) made serially by a plain client: ${ms(f.serialMs)}`,
      `  planning / serial requests: ${f.ratio.toFixed(2)} (target <= 1.20)`,
      '',
    ].join('\n'),
  }
}

export function planRows(f: PlanFigures): SummaryRow[] {
  return [
    {
      what: `planning ${f.repos.toLocaleString('en-US')} repositories over ${f.owners} owners, GitHub ${f.latencyMs} ms late, vs its own GitHub requests made serially by a plain client`,
      measured: `**${f.ratio.toFixed(2)}x** (${(f.planningMs / 1000).toFixed(1)} s vs ${(f.serialMs / 1000).toFixed(1)} s); first page ${Math.round(f.pageMs)} ms`,
      goal: 'at most 1.20x; first page under 200 ms',
      met: planReport(f).ok,
    },
  ]
}
