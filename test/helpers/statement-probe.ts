import { writeFileSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'

// What the service's own code asks of Postgres in one test process, for `npm run ci:statements`:
// every statement text whose caller's stack passes through src/ (the pool's own wrapper,
// src/db/connect, does for every query, so it does not count), written to `dir` as the process
// exits. Literals and lists of parameters are folded, so one statement with other values, or
// with more of them (`in ($1, $2)`, a multi-row insert), is still one.

export interface StatementRecord {
  /** The test file, relative to the project. */
  file: string
  statements: string[]
}

export function normalizeStatement(text: string): string {
  return text
    .replace(/'(?:[^']|'')*'/g, "'?'")
    .replace(/\b\d+\b/g, 'N')
    .replace(/\s+/g, ' ')
    .replace(/\$N(?:\s*,\s*\$N)*/g, '$N…')
    .replace(/\(\$N…\)(?:\s*,\s*\(\$N…\))+/g, '($N…), …')
    .trim()
}

let installed = false

export function probeStatements(dir: string, root: string): void {
  if (installed) return
  installed = true
  const own = new RegExp(`${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(?:dist/)?src/(?!db/connect\\.)`)
  const seen = new Set<string>()
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown
  Error.stackTraceLimit = 200
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]): unknown {
    const first = args[0]
    const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text
    if (typeof text === 'string' && own.test(new Error().stack ?? '')) seen.add(normalizeStatement(text))
    return query.apply(this, args)
  } as typeof pg.Client.prototype.query
  process.on('exit', () => {
    const record: StatementRecord = { file: path.relative(root, process.argv[1] ?? 'unknown'), statements: [...seen].sort() }
    writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify(record))
  })
}
