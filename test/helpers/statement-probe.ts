import { writeFileSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'

// What the service's own code asks of Postgres in one test process, for `npm run ci:statements`:
// every statement text whose caller's stack passes through src/ (the pool's own wrapper,
// src/db/connect, does for every query, so it does not count), written to `dir` as the process
// exits. A pool's query is seen where it is called, not where its client sends it: pg-pool sends
// from a callback, off the caller's stack (pg-boss's SQL, through src/plugins/queue.ts, is
// one). Literals and lists of parameters are folded, so one statement with other values, or
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

type Query = (...args: unknown[]) => unknown

/** Called once, by the test database helper as it loads. */
export function probeStatements(dir: string, root: string): void {
  const own = new RegExp(`${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(?:dist/)?src/(?!db/connect\\.)`)
  const seen = new Set<string>()
  Error.stackTraceLimit = 200
  const record = (first: unknown): void => {
    const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text
    if (typeof text === 'string' && own.test(new Error().stack ?? '')) seen.add(normalizeStatement(text))
  }
  for (const prototype of [pg.Client.prototype, pg.Pool.prototype] as { query: Query }[]) {
    const query = prototype.query
    prototype.query = function (this: unknown, ...args: unknown[]): unknown {
      record(args[0])
      return query.apply(this, args)
    }
  }
  process.on('exit', () => {
    const file: StatementRecord = { file: path.relative(root, process.argv[1] ?? 'unknown'), statements: [...seen].sort() }
    writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify(file))
  })
}
