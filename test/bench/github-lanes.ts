import { randomBytes } from 'node:crypto'
import pg from 'pg'
import pino from 'pino'
import { connect } from '../../src/db/connect.js'
import { migrateToLatest } from '../../src/db/migrator.js'
import { createGitHubLanes } from '../../src/github/lanes.js'
import { createOctokitClass, type GitHubOctokit } from '../../src/github/octokit.js'
import { buildSimulator } from '../../src/simulator/server.js'
import { loadWorld } from '../../src/simulator/world.js'
import { projectRoot } from '../../src/project-root.js'
import path from 'node:path'
import type { SummaryRow } from './summary.js'

// What a lane costs a GitHub request: the same requests to the simulator (no simulated
// latency, so the lane's round trips to Postgres are all there is to see) with and without
// lanes, one at a time with one token, and eight tokens at once. Target: under 2 ms a request.

export interface LaneFigures {
  requests: number
  plainMs: number
  lanedMs: number
  overheadMs: number
  tokens: number
  parallelPlainMs: number
  parallelLanedMs: number
}

async function timed(requests: number, octokit: GitHubOctokit): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < requests; i++) await octokit.request('GET /user')
  return performance.now() - started
}

export async function benchGitHubLanes(serverUrl: string, requests = 500): Promise<LaneFigures> {
  const name = `bench_lanes_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  await admin.query(`create database ${name}`)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const db = connect(url.toString(), { max: 2 })
  const sim = await buildSimulator({ logLevel: 'silent', world: (await loadWorld(path.join(projectRoot(), 'src', 'simulator', 'worlds', 'demo.json'))).world })
  try {
    await migrateToLatest(db.db)
    sim.state.limits.hourlyQuota = 1_000_000
    const apiUrl = `${await sim.app.listen({ host: '127.0.0.1', port: 0 })}/api/v3`
    const log = pino({ level: 'silent' })
    const lanes = createGitHubLanes(db.pool, {}, log)
    const Plain = createOctokitClass({ apiUrl, log, retries: 0 })
    const Laned = createOctokitClass({ apiUrl, log, lanes, retries: 0 })
    const token = 'gho_legacy_mona_0001'
    await timed(50, new Plain({ auth: token }))
    await timed(50, new Laned({ auth: token }))
    const plainMs = await timed(requests, new Plain({ auth: token }))
    const lanedMs = await timed(requests, new Laned({ auth: token }))
    const tokens = Array.from({ length: 8 }, () => sim.state.issueUserToken(1).token)
    const parallel = async (GitHub: typeof Plain): Promise<number> => {
      const started = performance.now()
      await Promise.all(tokens.map((t) => timed(requests / 8, new GitHub({ auth: t }))))
      return performance.now() - started
    }
    const parallelPlainMs = await parallel(Plain)
    const parallelLanedMs = await parallel(Laned)
    await lanes.close()
    return { requests, plainMs, lanedMs, overheadMs: (lanedMs - plainMs) / requests, tokens: tokens.length, parallelPlainMs, parallelLanedMs }
  } finally {
    await sim.app.close()
    await db.close()
    await admin.query(`drop database ${name} with (force)`)
    await admin.end()
  }
}

export function githubLanesReport(f: LaneFigures): { text: string; ok: boolean } {
  const per = (ms: number, n: number): string => `${(ms / n).toFixed(2)} ms/request`
  const text = [
    `GitHub lanes, ${f.requests} GET /user to the simulator (no simulated latency)`,
    `  one token, one at a time, without lanes: ${per(f.plainMs, f.requests)}`,
    `  one token, one at a time, through lanes: ${per(f.lanedMs, f.requests)}`,
    `  overhead of a lane: ${f.overheadMs.toFixed(2)} ms a request (target < 2 ms)`,
    `  ${f.tokens} tokens at once, without lanes: ${(f.parallelPlainMs / 1000).toFixed(2)} s, through lanes: ${(f.parallelLanedMs / 1000).toFixed(2)} s`,
    '',
  ].join('\n')
  return { text, ok: f.overheadMs < 2 }
}

export function githubLanesRows(f: LaneFigures): SummaryRow[] {
  return [
    {
      what: `a GitHub lane (one request at a time per credential, across instances) vs the same ${f.requests} requests without lanes`,
      measured: `**${f.overheadMs.toFixed(2)} ms** a request`,
      goal: 'under 2 ms a request',
      met: githubLanesReport(f).ok,
    },
  ]
}
