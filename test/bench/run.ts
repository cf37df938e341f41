import { mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { databaseUrlFrom } from '../../src/config.js'
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded-postgres.js'
import { auditAppendReport, benchAuditAppend, type AuditAppendFigures } from './audit-append.js'
import { auditSearchReport, benchAuditSearch } from './audit-search.js'
import { benchGitHubLanes, githubLanesReport } from './github-lanes.js'
import { benchLegacyImport } from './legacy-import.js'
import { benchPlanProgress, planReport } from './plan-progress.js'
import { benchSimulator, simulatorReport } from './simulator.js'
import { benchCrowd } from './crowd.js'
import { benchCleanup, cleanupReport } from './cleanup.js'
import { beforeReportReport, benchBeforeReport } from './before-report.js'
import { benchWizardPage, wizardPageReport } from './wizard-page.js'

// `npm run bench [-- --only legacy-import|simulator|audit|audit-search|crowd|github-lanes|plan|cleanup|before-report|wizard-page] [--rows N] [--seconds N] [--users N] [--events N]`:
// benchmarks. legacy-import, audit, audit-search, crowd, github-lanes, plan, cleanup and before-report run on DATABASE_URL or an embedded
// Postgres (audit on two: fsync off, as tests run it, and on, as a server does; audit-search on
// one kept between runs, since seeding its events takes minutes); the simulator needs no
// database. Exits non-zero when any benchmark misses its target.

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../..' : '../..', import.meta.url))
const BENCHMARKS = ['legacy-import', 'simulator', 'audit', 'audit-search', 'crowd', 'github-lanes', 'plan', 'cleanup', 'before-report', 'wizard-page'] as const
const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '5' }, users: { type: 'string', default: '500' }, events: { type: 'string', default: '10000000' }, only: { type: 'string' } } })
const rows = Number(values.rows)
if (!Number.isInteger(rows) || rows < 1) {
  process.stderr.write('--rows must be a positive whole number\n')
  process.exit(2)
}
const users = Number(values.users)
if (!Number.isInteger(users) || users < 1) {
  process.stderr.write('--users must be a positive whole number\n')
  process.exit(2)
}
const events = Number(values.events)
if (!Number.isInteger(events) || events < 1000) {
  process.stderr.write('--events must be a whole number of at least 1000\n')
  process.exit(2)
}
const seconds = Number(values.seconds)
if (!Number.isFinite(seconds) || seconds <= 0) {
  process.stderr.write('--seconds must be a positive number\n')
  process.exit(2)
}
if (values.only !== undefined && !(BENCHMARKS as readonly string[]).includes(values.only)) {
  process.stderr.write(`--only must be one of: ${BENCHMARKS.join(', ')}\n`)
  process.exit(2)
}
const runs = (name: (typeof BENCHMARKS)[number]): boolean => values.only === undefined || values.only === name

const workDir = path.join(root, '.data', 'bench')
await mkdir(workDir, { recursive: true })

/** Runs `bench` on DATABASE_URL, or on an embedded Postgres of its own, removed after it. */
async function withDatabase(name: string, bench: (url: string) => Promise<void>): Promise<void> {
  let embedded: EmbeddedPostgres | undefined
  let url = databaseUrlFrom()
  if (url === undefined) {
    embedded = await startEmbeddedPostgres({ dataDir: path.join(workDir, `postgres-${name}`), persistent: false })
    url = embedded.url
  }
  try {
    await bench(url)
  } finally {
    await embedded?.stop()
  }
}

async function legacyImport(url: string): Promise<void> {
  try {
    const f = await benchLegacyImport(url, workDir, rows)
    const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
    const rate = (ms: number): string => `${Math.round(f.rows / (ms / 1000)).toLocaleString('en-US')} rows/s`
    process.stdout.write(
      [
        `legacy:import, ${f.rows.toLocaleString('en-US')} rows (${f.fileMb.toFixed(0)} MB)`,
        `  psql \\copy into the destination (typed, indexed): ${s(f.psqlIndexedMs)}  ${rate(f.psqlIndexedMs)}`,
        `  psql \\copy into a bare text table:                ${s(f.psqlBareMs)}  ${rate(f.psqlBareMs)}`,
        `  legacy:import, first import:                      ${s(f.firstImportMs)}  ${rate(f.firstImportMs)}`,
        `  legacy:import, same file again (no change):       ${s(f.reimportMs)}  ${rate(f.reimportMs)}`,
        `  speed vs psql into the destination: ${f.ratioIndexed.toFixed(2)} (target >= 0.50)   vs bare table: ${f.ratioBare.toFixed(2)}`,
        `  peak RSS of this process: ${f.peakRssMb.toFixed(0)} MB`,
        '',
      ].join('\n'),
    )
    if (f.ratioIndexed < 0.5) process.exitCode = 1
  } finally {
    await rm(path.join(workDir, `legacy-${rows}.csv`), { force: true })
  }
}

async function githubLanes(url: string): Promise<void> {
  const { text, ok } = githubLanesReport(await benchGitHubLanes(url))
  process.stdout.write(text)
  if (!ok) process.exitCode = 1
}

async function simulator(): Promise<void> {
  const { text, ok } = simulatorReport(await benchSimulator(workDir))
  process.stdout.write(text)
  if (!ok) process.exitCode = 1
}

async function crowd(url: string): Promise<void> {
  const f = await benchCrowd(url)
  const ms = (n: number): string => `${Math.round(n).toLocaleString('en-US')} ms`
  process.stdout.write(
    [
      `crowd: ${f.users} users planning at once through ${f.instances} instances on one database (simulator: 1 request in flight per credential, 20 ms latency)`,
      `  all planned in ${ms(f.wallMs)}; per user, first page to finished plan: p50 ${ms(f.planP50Ms)}, p99 ${ms(f.planP99Ms)}`,
      `  pages ${f.pages}, 5xx ${f.serverErrors} (target 0); GitHub requests ${f.githubRequests}`,
      `  breaches counted by the simulator: ${f.breaches.total} (concurrent ${f.breaches.concurrent}, writes ${f.breaches.writes}, quota ${f.breaches.quota}) (target 0)`,
      '',
    ].join('\n'),
  )
  if (f.serverErrors > 0 || f.breaches.total > 0) process.exitCode = 1
}

async function auditAppend(): Promise<void> {
  const figures: AuditAppendFigures[] = []
  const url = databaseUrlFrom()
  if (url !== undefined) figures.push(await benchAuditAppend(url, { seconds }))
  else {
    // persistent: false starts Postgres with fsync off, as tests do; persistent: true, as a server runs.
    for (const persistent of [false, true]) {
      const dataDir = path.join(workDir, `postgres-audit-${persistent ? 'fsync' : 'nofsync'}`)
      await rm(dataDir, { recursive: true, force: true })
      const embedded = await startEmbeddedPostgres({ dataDir, persistent })
      try {
        figures.push(await benchAuditAppend(embedded.url, { seconds }))
      } finally {
        await embedded.stop()
        await rm(dataDir, { recursive: true, force: true })
      }
    }
  }
  const { text, ok } = auditAppendReport(figures)
  process.stdout.write(text)
  if (!ok) process.exitCode = 1
}

async function auditSearch(): Promise<void> {
  const log = (line: string): boolean => process.stderr.write(`${line}\n`)
  let url = databaseUrlFrom()
  // Kept, with fsync on as a server runs: the next run finds its events seeded.
  const embedded = url === undefined ? await startEmbeddedPostgres({ dataDir: path.join(workDir, 'postgres-audit-search'), persistent: true }) : undefined
  url ??= embedded!.url
  try {
    const { text, ok } = auditSearchReport(await benchAuditSearch(url, { events, log }), { plans: true })
    process.stdout.write(text)
    if (!ok) process.exitCode = 1
  } finally {
    await embedded?.stop()
  }
  if (embedded !== undefined) log(`(its database is kept in ${embedded.dataDir} for the next run; remove the folder to seed again)`)
}

async function plan(url: string): Promise<void> {
  const { text, ok } = planReport(await benchPlanProgress(url))
  process.stdout.write(text)
  if (!ok) process.exitCode = 1
}

if (runs('legacy-import')) await withDatabase('legacy-import', legacyImport)
if (runs('simulator')) await simulator()
if (runs('audit')) await auditAppend()
if (runs('audit-search')) await auditSearch()
if (runs('crowd')) await withDatabase('crowd', crowd)
if (runs('github-lanes')) await withDatabase('github-lanes', githubLanes)
if (runs('plan')) await withDatabase('plan', plan)
if (runs('cleanup'))
  await withDatabase('cleanup', async (url) => {
    const { text, ok } = cleanupReport(await benchCleanup(url, { users }))
    process.stdout.write(text)
    if (!ok) process.exitCode = 1
  })
if (runs('wizard-page'))
  await withDatabase('wizard-page', async (url) => {
    const { text, ok } = wizardPageReport(await benchWizardPage(url, { registrations: rows, seconds }))
    process.stdout.write(text)
    if (!ok) process.exitCode = 1
  })
if (runs('before-report'))
  await withDatabase('before-report', async (url) => {
    const { text, ok } = beforeReportReport(await benchBeforeReport(url, workDir, rows))
    process.stdout.write(text)
    if (!ok) process.exitCode = 1
  })
