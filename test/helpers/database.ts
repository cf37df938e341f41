import { randomBytes } from 'node:crypto'
import path from 'node:path'
import pg from 'pg'
import tap, { type Test } from 'tap'
import { databaseUrlFrom } from '../../src/config.js'
import { connect, type Db } from '../../src/db/connect.js'
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js'
import { migrateToLatest } from '../../src/db/migrator.js'
import { probeStatements } from './statement-probe.js'

// Every test file gets databases of its own on one server: DATABASE_URL (set by `npm test`),
// or, when a file is run alone with tap, an embedded Postgres for that process.

let server: Promise<string> | undefined

// `npm run ci:statements` sets it: record what the service's code asks of Postgres here.
const statementLog = process.env['OAUTH_TO_APP_STATEMENT_LOG']
if (statementLog !== undefined && statementLog !== '') probeStatements(statementLog, process.cwd())

function serverUrl(): Promise<string> {
  const url = databaseUrlFrom()
  if (url !== undefined) return Promise.resolve(url)
  server ??= startEmbeddedPostgres({
    dataDir: path.resolve('.data', `postgres-tap-${process.pid}`),
    persistent: false,
  }).then((pgServer) => {
    tap.teardown(() => pgServer.stop())
    return pgServer.url
  })
  return server
}

/**
 * A migrated database of this process on the shared server, copied for each test that wants
 * one: CREATE DATABASE from a template takes a third of the time of running every migration.
 * Its own per process, because Postgres copies only a database nobody is connected to.
 */
let template: Promise<string> | undefined

function migratedTemplate(admin: string): Promise<string> {
  template ??= (async () => {
    const name = `test_template_${randomBytes(6).toString('hex')}`
    await adminQuery(admin, `create database ${name}`)
    const db = connect(withDatabase(admin, name), { max: 1 })
    try {
      await migrateToLatest(db.db)
    } finally {
      await db.close()
    }
    // An embedded server goes with its files; DATABASE_URL's stays, and must not fill up.
    if (databaseUrlFrom() !== undefined) tap.teardown(() => adminQuery(admin, `drop database if exists ${name} with (force)`))
    return name
  })()
  return template
}

/** One statement on `admin`'s server, on a connection of its own (CREATE and DROP DATABASE). */
export async function adminQuery(admin: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

export interface TestDatabase extends Db {
  url: string
  name: string
}

/**
 * A new, empty database (migrated unless told otherwise), dropped when the test ends; `max`:
 * its pool's connections (5); `server`: the URL of a Postgres server of the test's own, rather
 * than the one every test file shares; `template`: a copy of that database instead (Postgres
 * copies only a database nobody is connected to: close the template's connections first).
 */
export async function testDatabase(t: Test, options: { migrate?: boolean; max?: number; server?: string; template?: string } = {}): Promise<TestDatabase> {
  const admin = options.server ?? (await serverUrl())
  const name = `test_${randomBytes(6).toString('hex')}`
  // Migrated on the shared server: a copy of this process's migrated template.
  const copied = options.template ?? (options.migrate !== false && options.server === undefined ? await migratedTemplate(admin) : undefined)
  await adminQuery(admin, `create database ${name}${copied === undefined ? '' : ` template ${copied}`}`)
  const url = withDatabase(admin, name)
  const db = connect(url, { max: options.max ?? 5 })
  // Closed by the test (a template) or when it ends, once.
  let closed: Promise<void> | undefined
  const close = (): Promise<void> => (closed ??= db.close())
  t.teardown(async () => {
    await close()
    await adminQuery(admin, `drop database if exists ${name} with (force)`)
  })
  if (options.migrate !== false && copied === undefined) await migrateToLatest(db.db)
  return { ...db, close, url, name }
}
