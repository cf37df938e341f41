import { spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { open, readFile, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import { processEnv } from '../../src/config.js'
import { connect } from '../../src/db/connect.js'
import { migrateToLatest } from '../../src/db/migrator.js'
import { reportQuery, type ReportFormat } from '../../src/migration/before-report.js'
import { freezeAll } from '../../src/migration/before-snapshot.js'
import { freshDatabase } from './legacy-import.js'
import type { SummaryRow } from './summary.js'

// `oauth-to-app report:before --out FILE` against `psql`'s `\copy (the same query) to stdout`
// into a file, each a process of its own, side by side on one server: both have Postgres run
// the same query and write what it sends to a file; the difference is what carries the bytes
// (pg-copy-streams through node, or psql). Rounds alternate, so both meet the same cache and
// the same neighbours; the median of each counts.

export interface BeforeReportFigures {
  rows: number
  seedMs: number
  snapshotMs: number
  csvMb: number
  /** Median milliseconds over the rounds. */
  serviceMs: number
  psqlMs: number
  ndjsonMs: number
  /** psql's time over the service's: the service's throughput as a share of psql's. */
  ratio: number
  /** The largest resident set of the report:before process (its peak, as Linux keeps it). */
  peakRssMb: number
  psqlPeakRssMb: number
}

const ROUNDS = 3

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

/**
 * `rows` legacy hooks of rows/10 users on rows/20 owners, frozen by report:snapshot, and what a
 * migration half-way leaves: a third of the repositories in covered batches with a live
 * installation, and a task for each of their hooks, most removed, a few needing a person.
 */
async function seed(url: string, rows: number): Promise<void> {
  const { db, close } = connect(url, { max: 1 })
  try {
    await migrateToLatest(db)
    const users = Math.max(1, Math.floor(rows / 10))
    const owners = Math.max(1, Math.floor(rows / 20))
    await sql`
      insert into legacy.oauth_users (github_user_id, login, oauth_token, scopes)
      select u, 'user-' || u, null, 'repo,admin:repo_hook' from generate_series(1, ${users}) u`.execute(db)
    await sql`
      insert into legacy.webhooks (github_user_id, kind, owner_id, owner_login, owner_type, repo_id, repo_name, hook_id, hook_url, created_at)
      select 1 + (i::bigint * 7919) % ${users}, 'repo', 1000000 + i % ${owners}, 'owner-' || i % ${owners}, case when i % 3 = 0 then 'User' else 'Organization' end,
        10000000 + i, 'repository-' || i, 50000000 + i, 'https://ci.example.com/hooks/github', timestamptz '2017-01-01' + i * interval '1 minute'
      from generate_series(1, ${rows}) i`.execute(db)
    // Every user has planned; one in 100 found a repository of theirs deleted.
    await sql`
      insert into app.inventory (user_id, user_login, planned_at, gone)
      select u, 'user-' || u, now() - interval '2 days',
        case when u % 100 = 0 then jsonb_build_array(jsonb_build_object('repoId', 1, 'repoName', 'deleted', 'ownerLogin', 'user-' || u, 'hookId', 40000000 + u)) else '[]' end
      from generate_series(1, ${users}) u`.execute(db)
    await sql`
      insert into app.installation (id, account_id, account_login, repository_selection)
      select 900000 + o, 1000000 + o, 'owner-' || o, 'selected' from generate_series(0, ${owners - 1}) o where o % 3 = 0`.execute(db)
    await sql`
      insert into app.batch (user_id, owner_id, owner_login, owner_type, role, action, hidden_repos, state, installation_id, coverage_checked_at)
      select 1 + o % ${users}, 1000000 + o, 'owner-' || o, 'Organization', 'owner', 'install', 0, 'installed', 900000 + o, now() - interval '1 day'
      from generate_series(0, ${owners - 1}) o where o % 3 = 0`.execute(db)
    await sql`
      insert into app.batch_repo (batch_id, repo_id, repo_name, private, moved, enabled_by, hook_ids, coverage)
      select b.id, w.repo_id, w.repo_name, false, false, array['user-' || w.github_user_id], array[w.hook_id], 'covered'
      from legacy.webhooks w join app.batch b on b.owner_id = w.owner_id`.execute(db)
    await sql`
      insert into app.cleanup_task (hook_id, kind, owner_id, owner_login, repo_id, repo_name, enabled_by, requested_by, state, reason, credential, attempts)
      select w.hook_id, 'repo', w.owner_id, w.owner_login, w.repo_id, w.repo_name, w.github_user_id, w.github_user_id,
        case when w.hook_id % 50 = 0 then 'needs_manual' else 'removed' end,
        case when w.hook_id % 50 = 0 then 'The legacy token of this user was revoked and the App lacks the Webhooks permission' end,
        'legacy', 1
      from legacy.webhooks w join app.batch b on b.owner_id = w.owner_id`.execute(db)
    await sql`analyze`.execute(db)
  } finally {
    await close()
  }
}

interface Run {
  ms: number
  peakKb: number
}

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))

/** The peak resident set of a running process so far (VmHWM), in kB; 0 once it is gone. */
async function peakOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0)
}

/** Runs a command to its end: its wall time, and its peak memory, sampled until it exits. */
function measured(command: string, args: string[], stdout: 'ignore' | number, env?: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(command, args, { stdio: ['ignore', stdout, 'inherit'], ...(env === undefined ? {} : { env }) })
    let peakKb = 0
    let sampling = true
    const sample = async (): Promise<void> => {
      while (sampling) {
        peakKb = Math.max(peakKb, await peakOf(child.pid!))
        await new Promise((next) => setTimeout(next, 10))
      }
    }
    const sampled = sample()
    child.once('error', reject)
    child.once('exit', (code) => {
      const ms = performance.now() - started
      sampling = false
      void sampled.then(() => (code === 0 ? resolve({ ms, peakKb }) : reject(new Error(`${command} exited with ${code}`))))
    })
  })
}

async function lineCount(file: string): Promise<number> {
  let lines = 0
  for await (const chunk of createReadStream(file)) for (const byte of chunk as Buffer) if (byte === 10) lines++
  return lines
}

export async function benchBeforeReport(adminUrl: string, workDir: string, rows: number): Promise<BeforeReportFigures> {
  const url = await freshDatabase(adminUrl, 'bench_before_report')
  let started = performance.now()
  await seed(url, rows)
  const seedMs = performance.now() - started
  const service = connect(url, { max: 2 })
  const files = { service: path.join(workDir, 'before-service.csv'), psql: path.join(workDir, 'before-psql.csv'), ndjson: path.join(workDir, 'before.ndjson') }
  try {
    started = performance.now()
    await freezeAll(service.db, { kind: 'system', login: 'bench' })
    const snapshotMs = performance.now() - started

    const viaService = async (format: ReportFormat, file: string): Promise<Run> => {
      const run = await measured(process.execPath, [CLI, 'report:before', '--format', format, '--out', file], 'ignore', { ...processEnv(), DATABASE_URL: url })
      const rowsWritten = await lineCount(file)
      if (rowsWritten !== rows + (format === 'csv' ? 1 : 0)) throw new Error(`report:before wrote ${rowsWritten} lines for ${rows} hooks`)
      return run
    }
    const viaPsql = async (): Promise<Run> => {
      const out = await open(files.psql, 'w')
      try {
        return await measured('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', url, '-c', `\\copy (${reportQuery({ kind: 'all' }, 'csv')}) to stdout with (format csv, header)`], out.fd)
      } finally {
        await out.close()
      }
    }
    const serviceRuns: Run[] = []
    const psqlRuns: Run[] = []
    const ndjsonRuns: Run[] = []
    // A first run of each warms the cache; it is not counted.
    await viaService('csv', files.service)
    await viaPsql()
    for (let round = 0; round < ROUNDS; round++) {
      serviceRuns.push(await viaService('csv', files.service))
      psqlRuns.push(await viaPsql())
      ndjsonRuns.push(await viaService('ndjson', files.ndjson))
    }
    const [mine, theirs] = await Promise.all([stat(files.service), stat(files.psql)])
    if (mine.size !== theirs.size) throw new Error(`the service wrote ${mine.size} bytes and psql ${theirs.size}: not the same report`)
    const serviceMs = median(serviceRuns.map((r) => r.ms))
    const psqlMs = median(psqlRuns.map((r) => r.ms))
    const peakRssMb = Math.max(...serviceRuns.map((r) => r.peakKb), ...ndjsonRuns.map((r) => r.peakKb)) / 1024
    return { rows, seedMs, snapshotMs, csvMb: mine.size / 2 ** 20, serviceMs, psqlMs, ndjsonMs: median(ndjsonRuns.map((r) => r.ms)), ratio: psqlMs / serviceMs, peakRssMb, psqlPeakRssMb: Math.max(...psqlRuns.map((r) => r.peakKb)) / 1024 }
  } finally {
    await service.close()
    await Promise.all(Object.values(files).map((file) => rm(file, { force: true })))
  }
}

export function beforeReportReport(f: BeforeReportFigures): { text: string; ok: boolean } {
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
  const rate = (ms: number): string => `${Math.round(f.rows / (ms / 1000)).toLocaleString('en-US')} rows/s`
  const ok = f.ratio >= 0.8 && f.peakRssMb < 150
  const text = [
    `report:before, ${f.rows.toLocaleString('en-US')} hooks (CSV ${f.csvMb.toFixed(0)} MB; seeded in ${s(f.seedMs)}, frozen by report:snapshot in ${s(f.snapshotMs)}), median of ${ROUNDS} alternating rounds`,
    `  psql \\copy (same query) to stdout: ${s(f.psqlMs)}  ${rate(f.psqlMs)}`,
    `  report:before --format csv:         ${s(f.serviceMs)}  ${rate(f.serviceMs)}`,
    `  report:before --format ndjson:      ${s(f.ndjsonMs)}  ${rate(f.ndjsonMs)}`,
    `  throughput vs psql: ${f.ratio.toFixed(2)} (target >= 0.80)`,
    `  peak RSS of the report:before process: ${f.peakRssMb.toFixed(0)} MB (target < 150; psql's: ${f.psqlPeakRssMb.toFixed(0)} MB)`,
    '',
  ].join('\n')
  return { text, ok }
}

export function beforeReportRows(f: BeforeReportFigures): SummaryRow[] {
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
  return [
    {
      what: `before-state export (report:before, CSV) of ${f.rows.toLocaleString('en-US')} hooks vs psql \\copy of the same query to a file`,
      measured: `**${f.ratio.toFixed(2)}** of psql's throughput (${s(f.serviceMs)} vs ${s(f.psqlMs)}, medians of ${ROUNDS}); ${f.peakRssMb.toFixed(0)} MB peak RSS`,
      goal: 'at least 0.80, under 150 MB',
      met: beforeReportReport(f).ok,
    },
  ]
}
