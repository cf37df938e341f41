import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { databaseUrlFrom } from '../src/config.js'
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded-postgres.js'

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
  const tap = spawn(path.join(root, 'node_modules', '.bin', 'tap'), process.argv.slice(2), {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, DATABASE_URL: url },
  })
  const forward = (signal: NodeJS.Signals): void => {
    tap.kill(signal)
  }
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  const code = await new Promise<number>((resolve) => tap.on('close', (c, s) => resolve(c ?? (s ? 1 : 0))))
  await embedded?.stop()
  return code
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  },
)
