import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { StatementRecord } from './helpers/statement-probe.js'

// `npm run ci:statements`: whether .ci/run's second pass (Debian's PostgreSQL) still issues every
// statement of the service's own code that the suite does. It runs the suite (less the `once`
// list, whose files do not use the test database in this process) recording each file's
// statements, then names every statement that only suites of the `covered` list issue: run once,
// it would go untried on PostgreSQL 15. What it cannot see, a guarantee Postgres itself keeps
// (a trigger, a lock, row versions), is why such suites are never listed (see .ci/run).
// `--records DIR` keeps the records there; `--compare DIR` compares kept ones without a run.

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../..' : '..', import.meta.url))

/** A bash array of .ci/run, `name=( ... )`, its words unquoted. */
export function bashArray(script: string, name: string): string[] {
  const match = new RegExp(`^${name}=\\(([\\s\\S]*?)^\\)`, 'm').exec(script)
  if (match === null) throw new Error(`.ci/run has no array ${name}=( ... )`)
  return match[1]!.split(/\s+/).filter((word) => word !== '').map((word) => word.replace(/^'(.*)'$/, '$1'))
}

/** tap's --exclude patterns: a path, or one ending in /** for everything under a folder. */
export function excluded(file: string, patterns: string[]): boolean {
  return patterns.some((p) => (p.endsWith('/**') ? file.startsWith(p.slice(0, -2)) : file === p))
}

/** Statements no file of the second pass issues, with the files that do. */
export function untried(records: StatementRecord[], once: string[], covered: string[]): Map<string, string[]> {
  const tried = new Set(records.filter((r) => !excluded(r.file, once) && !excluded(r.file, covered)).flatMap((r) => r.statements))
  const missing = new Map<string, string[]>()
  for (const record of records) {
    for (const statement of record.statements) {
      if (tried.has(statement)) continue
      missing.set(statement, [...(missing.get(statement) ?? []), record.file])
    }
  }
  return missing
}

async function main(): Promise<number> {
  const script = readFileSync(path.join(root, '.ci', 'run'), 'utf8')
  const once = bashArray(script, 'once')
  const covered = bashArray(script, 'covered')
  const { values } = parseArgs({ options: { records: { type: 'string' }, compare: { type: 'string' } } })
  const dir = values.compare ?? values.records ?? mkdtempSync(path.join(os.tmpdir(), 'oauth-to-app-statements-'))
  try {
    if (values.compare === undefined) {
      if (values.records !== undefined) {
        mkdirSync(dir, { recursive: true })
        // Records of an earlier run would be counted with this one's.
        if (readdirSync(dir).length > 0) throw new Error(`--records ${dir} is not empty: give an empty or new folder`)
      }
      const code = await runSuite(dir, once)
      if (code !== 0) {
        process.stderr.write('ci:statements: the suite failed; its statements were not compared\n')
        return code
      }
    }
    const records = readdirSync(dir).map((name) => JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as StatementRecord)
    if (records.length === 0) throw new Error(`no records in ${dir}`)
    const all = new Set(records.flatMap((r) => r.statements))
    const missing = untried(records, once, covered)
    process.stdout.write(`\nci:statements: ${all.size} distinct statements of the service's code in ${records.length} test processes; ${all.size - missing.size} issued in the PostgreSQL 15 pass\n`)
    for (const [statement, files] of missing) process.stdout.write(`  only in ${files.join(', ')}:\n    ${statement.slice(0, 300)}\n`)
    if (missing.size > 0) process.stdout.write(`${missing.size} statements would go untried on PostgreSQL 15: take a suite issuing each out of .ci/run's covered list\n`)
    return missing.size > 0 ? 1 : 0
  } finally {
    if (values.compare === undefined && values.records === undefined) rmSync(dir, { recursive: true, force: true })
  }
}

/** The suite, less the files run once, each test process recording its statements in `dir`. */
function runSuite(dir: string, once: string[]): Promise<number> {
  const args = [path.join(root, 'dist', 'test', 'run.js'), '--disable-coverage', '--allow-incomplete-coverage', ...once.map((p) => `--exclude=${p}`)]
  return new Promise<number>((resolve) => {
    const run = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, OAUTH_TO_APP_STATEMENT_LOG: dir } })
    run.on('close', (c) => resolve(c ?? 1))
  })
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`ci:statements: ${error instanceof Error ? error.message : String(error)}\n`)
      process.exit(1)
    },
  )
}
