import { loadavg } from 'node:os'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { databaseUrlFrom } from '../../src/config.js'
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded-postgres.js'
import { auditAppendReport, auditAppendRows, benchAuditAppend, type AuditAppendFigures } from './audit-append.js'
import { auditSearchReport, auditSearchRows, benchAuditSearch } from './audit-search.js'
import { benchGitHubLanes, githubLanesReport, githubLanesRows } from './github-lanes.js'
import { benchLegacyImport, legacyImportReport, legacyImportRows } from './legacy-import.js'
import { machineNow, postgresVersion } from './machine.js'
import { benchPlanProgress, planReport, planRows } from './plan-progress.js'
import { benchSimulator, simulatorReport, simulatorRows } from './simulator.js'
import { benchCrowd, crowdOk, crowdRows } from './crowd.js'
import { benchCleanup, cleanupReport, cleanupRows } from './cleanup.js'
import { beforeReportReport, beforeReportRows, benchBeforeReport } from './before-report.js'
import { failedRow, summaryTable, type SummaryRow } from './summary.js'
import { benchWizardPage, wizardPageReport, wizardPageRows } from './wizard-page.js'

// `npm run bench [-- --only legacy-import|simulator|audit|audit-search|crowd|github-lanes|plan|cleanup|before-report|wizard-page] [--rows N] [--seconds N] [--users N] [--events N]`:
// benchmarks (--rows: the legacy import's rows, the before-state report's and the wizard page's
// registrations). All but the simulator run on DATABASE_URL or an embedded
// Postgres (audit on two: fsync off, as tests run it, and on, as a server does; audit-search on
// one kept between runs, since seeding its events takes minutes); the simulator needs no
// database. Exits non-zero when any benchmark misses its target. Ends with one table of every
// figure against its goal, with the machine it ran on (printed, and written to
// .data/bench/summary.md, or summary-NAME.md for --only NAME).

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
const started = new Date()
const machine = machineNow()
const summary: SummaryRow[] = []

/** Prints a benchmark's report, keeps its rows for the table, and fails the run on a missed target. */
function report(result: { text: string; ok: boolean }, rowsOfIt: SummaryRow[]): void {
  process.stdout.write(result.text)
  summary.push(...rowsOfIt)
  if (!result.ok) process.exitCode = 1
}

/** Runs one benchmark; one that throws becomes a failed row of the table, and the others still run. */
async function run(name: (typeof BENCHMARKS)[number], bench: () => Promise<void>): Promise<void> {
  if (!runs(name)) return
  try {
    await bench()
  } catch (error) {
    process.stderr.write(`${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    summary.push(failedRow(name, error))
    process.exitCode = 1
  }
}

/** Runs `bench` on DATABASE_URL, or on an embedded Postgres of its own, removed after it. */
async function withDatabase(name: string, bench: (url: string) => Promise<void>): Promise<void> {
  let embedded: EmbeddedPostgres | undefined
  let url = databaseUrlFrom()
  if (url === undefined) {
    embedded = await startEmbeddedPostgres({ dataDir: path.join(workDir, `postgres-${name}`), persistent: false })
    url = embedded.url
  }
  try {
    machine.postgres ??= await postgresVersion(url)
    await bench(url)
  } finally {
    await embedded?.stop()
  }
}

async function legacyImport(url: string): Promise<void> {
  try {
    const f = await benchLegacyImport(url, workDir, rows)
    report(legacyImportReport(f), legacyImportRows(f))
  } finally {
    await rm(path.join(workDir, `legacy-${rows}.csv`), { force: true })
  }
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
        machine.postgres ??= await postgresVersion(embedded.url)
        figures.push(await benchAuditAppend(embedded.url, { seconds }))
      } finally {
        await embedded.stop()
        await rm(dataDir, { recursive: true, force: true })
      }
    }
  }
  report(auditAppendReport(figures), auditAppendRows(figures))
}

async function auditSearch(): Promise<void> {
  const log = (line: string): boolean => process.stderr.write(`${line}\n`)
  let url = databaseUrlFrom()
  // Kept, with fsync on as a server runs: the next run finds its events seeded.
  const embedded = url === undefined ? await startEmbeddedPostgres({ dataDir: path.join(workDir, 'postgres-audit-search'), persistent: true }) : undefined
  url ??= embedded!.url
  try {
    machine.postgres ??= await postgresVersion(url)
    const f = await benchAuditSearch(url, { events, log })
    report(auditSearchReport(f, { plans: true }), auditSearchRows(f))
  } finally {
    await embedded?.stop()
  }
  if (embedded !== undefined) log(`(its database is kept in ${embedded.dataDir} for the next run; remove the folder to seed again)`)
}

async function crowd(url: string): Promise<void> {
  const f = await benchCrowd(url)
  const ms = (n: number): string => `${Math.round(n).toLocaleString('en-US')} ms`
  const text = [
    `crowd: ${f.users} users planning at once through ${f.instances} instances on one database (simulator: 1 request in flight per credential, 20 ms latency)`,
    `  all planned in ${ms(f.wallMs)}; per user, first page to finished plan: p50 ${ms(f.planP50Ms)}, p99 ${ms(f.planP99Ms)}`,
    `  pages ${f.pages}, 5xx ${f.serverErrors} (target 0); GitHub requests ${f.githubRequests}`,
    `  breaches counted by the simulator: ${f.breaches.total} (concurrent ${f.breaches.concurrent}, writes ${f.breaches.writes}, quota ${f.breaches.quota}) (target 0)`,
    '',
  ].join('\n')
  report({ text, ok: crowdOk(f) }, crowdRows(f))
}

await run('legacy-import', () => withDatabase('legacy-import', legacyImport))
await run('simulator', async () => {
  const f = await benchSimulator(workDir)
  report(simulatorReport(f), simulatorRows(f))
})
await run('audit', auditAppend)
await run('audit-search', auditSearch)
await run('crowd', () => withDatabase('crowd', crowd))
await run('github-lanes', () =>
  withDatabase('github-lanes', async (url) => {
    const f = await benchGitHubLanes(url)
    report(githubLanesReport(f), githubLanesRows(f))
  }),
)
await run('plan', () =>
  withDatabase('plan', async (url) => {
    const f = await benchPlanProgress(url)
    report(planReport(f), planRows(f))
  }),
)
await run('cleanup', () =>
  withDatabase('cleanup', async (url) => {
    const f = await benchCleanup(url, { users })
    report(cleanupReport(f), cleanupRows(f))
  }),
)
await run('wizard-page', () =>
  withDatabase('wizard-page', async (url) => {
    const f = await benchWizardPage(url, { registrations: rows, seconds })
    report(wizardPageReport(f), wizardPageRows(f))
  }),
)
await run('before-report', () =>
  withDatabase('before-report', async (url) => {
    const f = await benchBeforeReport(url, workDir, rows)
    report(beforeReportReport(f), beforeReportRows(f))
  }),
)

machine.loadAtEnd = loadavg()
const table = summaryTable(summary, machine, { started, minutes: (Date.now() - started.getTime()) / 60_000, command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}` })
const file = path.join(workDir, values.only === undefined ? 'summary.md' : `summary-${values.only}.md`)
await writeFile(file, table)
process.stdout.write(`\n${table}\n(written to ${path.relative(root, file)})\n`)
