import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { databaseUrlFrom } from '../src/config.js'
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded-postgres.js'
import { failuresText, TapFailures } from './helpers/tap-failures.js'

// `npm test`: the suite against DATABASE_URL, or against an embedded Postgres started for the
// run and removed after it. Arguments go to tap (e.g. `npm test -- test/config.test.ts`).

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../..' : '..', import.meta.url))

async function main(): Promise<number> {
  let url = databaseUrlFrom()
  let embedded: EmbeddedPostgres | undefined
  if (url === undefined) {
    const started = Date.now()
    embedded = await startEmbeddedPostgres({ dataDir: path.join(root, '.data', `postgres-test-${process.pid}`), persistent: false })
    url = embedded.url
    process.stderr.write(`embedded Postgres ready in ${Date.now() - started} ms (${embedded.dataDir}), removed after the run\n`)
  } else {
    process.stderr.write('using the Postgres server at DATABASE_URL\n')
  }
  // On a terminal tap draws its own summary; elsewhere (CI, logs) its output passes through
  // and ends with what failed, repeated from above, and one plain "N passed, N failed" line that
  // any CI can read, even one that keeps only the log's tail.
  const plain = process.stdout.isTTY !== true
  const tap = spawn(path.join(root, 'node_modules', '.bin', 'tap'), process.argv.slice(2), {
    cwd: root,
    stdio: ['inherit', plain ? 'pipe' : 'inherit', 'inherit'],
    env: { ...process.env, DATABASE_URL: url },
  })
  let summary: Record<string, number> | undefined
  const failures = new TapFailures()
  if (plain) {
    let tail = ''
    // Decoded as a stream: a chunk may end inside a character.
    tap.stdout!.setEncoding('utf8')
    tap.stdout!.on('data', (chunk: string) => {
      process.stdout.write(chunk)
      failures.write(chunk)
      tail = (tail + chunk).slice(-4096)
      const match = /^# \{ (total: \d+.*) \}$/m.exec(tail)
      if (match) summary = Object.fromEntries(match[1]!.split(', ').map((kv) => kv.split(': ')).map(([k, v]) => [k, Number(v)]))
    })
  }
  const forward = (signal: NodeJS.Signals): void => {
    tap.kill(signal)
  }
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  const code = await new Promise<number>((resolve) => tap.on('close', (c, s) => resolve(c ?? (s ? 1 : 0))))
  await embedded?.stop()
  process.stdout.write(failuresText(failures.leaves()))
  if (summary) {
    const skipped = (summary['skip'] ?? 0) + (summary['todo'] ?? 0)
    process.stdout.write(`\ntests: ${summary['pass'] ?? 0} passed, ${summary['fail'] ?? 0} failed${skipped ? `, ${skipped} skipped` : ''}\n`)
  }
  return code
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  },
)
