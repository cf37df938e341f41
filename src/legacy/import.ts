import { createHash } from 'node:crypto'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import Cursor from 'pg-cursor'
import { LegacyCsvRecords, type LegacyCsvColumn } from './csv-records.js'
import { LegacyCsvTypedRows, type TypedRows } from './csv-typed-rows.js'
import {
  CREATE_STAGING,
  CREATE_USER_STAGING,
  FIND_CONFLICTS,
  FIND_PROBLEMS,
  copyHooksSql,
  copyUsersSql,
  mergeHooks,
  mergeStagedUsers,
  mergeUsers,
  type MergeCounts,
} from './import-sql.js'

// `legacy:import`: the vendor's CSV into legacy.oauth_users and legacy.webhooks, in one
// transaction. Two paths, with the same rules and the same outcome:
//  - the fast one, for a first import (legacy.webhooks empty) of a file that can be read twice:
//    the scanner checks every record and COPYs it straight into legacy.webhooks, and the user
//    columns into a small typed table (csv-typed-rows.ts); no staging table, no INSERT ... SELECT.
//    Anything it is unsure of rolls it back, and the file is read again by
//  - the thorough one: COPY into a temporary table of text columns, where SQL checks every row,
//    names every problem, and merges only a file without a single bad row. Rows equal to what is
//    stored are not written, so importing the same file twice changes nothing.

export interface ImportProblem {
  line: number
  reason: string
}

export type ImportProgress =
  | { phase: 'copy'; bytes: number; records: number }
  | { phase: 'check'; records: number }
  | { phase: 'merge'; records: number }

export interface ImportCounts {
  records: number
  hooksInserted: number
  hooksUpdated: number
  hooksUnchanged: number
  usersInserted: number
  usersUpdated: number
  usersUnchanged: number
}

export type ImportResult = ({ status: 'imported' } & ImportCounts) | { status: 'rejected'; records: number; problems: number }

export interface ImportOptions {
  /** The file's name as the operator gave it, kept in app.legacy_import. */
  fileName: string
  /** Called once per problem, in line order, before the import is rolled back. */
  onProblem: (problem: ImportProblem) => void
  onProgress?: (progress: ImportProgress) => void
}

const IMPORT_LOCK = `select pg_advisory_xact_lock(hashtext('oauth-to-app legacy import'))`

async function reportProblems(client: pg.PoolClient, onProblem: (p: ImportProblem) => void): Promise<number> {
  const cursor = client.query(new Cursor<ImportProblem>('select line, reason from pg_temp.import_problem order by line, id'))
  let count = 0
  for (;;) {
    const rows = await cursor.read(1000)
    if (rows.length === 0) break
    for (const row of rows) onProblem({ line: Number(row.line), reason: row.reason })
    count += rows.length
  }
  await cursor.close()
  return count
}

function copySql(columns: LegacyCsvColumn[]): string {
  const list = columns.join(', ')
  return `copy pg_temp.import_row (line, problem, ${list}) from stdin with (format csv, force_null (problem, ${list}))`
}

// Errors the fast check raises for a bad row: data exceptions (a cast) and its own rejection.
function isRowError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && (code.startsWith('22') || code === 'P0001')
}

async function copyIntoStaging(
  client: pg.PoolClient,
  source: Readable,
  records: LegacyCsvRecords,
  hash: ReturnType<typeof createHash>,
  onProgress: ImportOptions['onProgress'],
): Promise<void> {
  await withProgress(records, onProgress, async () => {
    const input = pipeline(source, digest(hash), records)
    // The COPY's column list is the header's order, so it starts once the header is read.
    const columns = await Promise.race([records.columns, input.then(() => records.columns)])
    await Promise.all([input, pipeline(records, client.query(copyFrom(copySql(columns))))])
  })
}

function digest(hash: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk)
      done(null, chunk)
    },
  })
}

/** Runs `reading` with the copy phase's progress reported every 250 ms, and once at its end. */
async function withProgress<T>(records: LegacyCsvRecords, onProgress: ImportOptions['onProgress'], reading: () => Promise<T>): Promise<T> {
  const report = (): void => onProgress?.({ phase: 'copy', bytes: records.bytes, records: records.records })
  const ticker = onProgress ? setInterval(report, 250) : undefined
  let result: T
  try {
    result = await reading()
  } finally {
    clearInterval(ticker)
  }
  report()
  return result
}

// The fast path sends the users' rows between segments of the hooks' COPY (one connection runs
// one COPY at a time), so that no more than this many bytes of them wait in memory. At 8 MB the
// process peaked 16 MB higher (RSS) and ran no faster than at 1 MB (19 segments at 1M rows).
const USER_SEGMENT_BYTES = 1 << 20

// What sends the fast path to the thorough one: a row Postgres refuses (class 22: a created_at
// it cannot read; class 23: a hook_id twice, when the unique index is built). The thorough path
// then names the problem, or throws the same error if it is not about a row after all.
function isFastPathError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  return isRowError(error) || (typeof code === 'string' && code.startsWith('23'))
}

/** COPYs the file's rows into legacy.webhooks and pg_temp.import_user; the hooks' row count. */
async function copyTyped(
  client: pg.PoolClient,
  source: Readable,
  rows: LegacyCsvTypedRows,
  hash: ReturnType<typeof createHash>,
  onProgress: ImportOptions['onProgress'],
): Promise<number> {
  const parts = rows[Symbol.asyncIterator]() as AsyncIterator<TypedRows>
  let users: Buffer[] = []
  let userBytes = 0
  let ended = false
  // One segment of the hooks' COPY: until the file ends or enough users wait.
  async function* segment(): AsyncGenerator<Buffer> {
    for (;;) {
      const next = await parts.next()
      if (next.done === true) {
        ended = true
        return
      }
      const { hooks, users: some } = next.value
      if (some.length > 0) {
        users.push(some)
        userBytes += some.length
      }
      if (hooks.length > 0) yield hooks
      if (userBytes >= USER_SEGMENT_BYTES) return
    }
  }
  const copy = async (columns: LegacyCsvColumn[]): Promise<number> => {
    let count = 0
    try {
      while (!ended) {
        const hooks = client.query(copyFrom(copyHooksSql(columns)))
        await pipeline(segment, hooks)
        count += hooks.rowCount
        if (users.length > 0) {
          const batch = users
          users = []
          userBytes = 0
          await pipeline(Readable.from(batch), client.query(copyFrom(copyUsersSql(columns))))
        }
      }
    } finally {
      // Stops reading the file when a COPY fails before its end.
      await parts.return?.()
    }
    return count
  }
  return await withProgress(rows, onProgress, async () => {
    const input = pipeline(source, digest(hash), rows)
    const columns = await Promise.race([rows.columns, input.then(() => rows.columns)])
    // A COPY that fails stops the reading, whose own error (the stream cut short) says nothing;
    // a reading that fails fails the COPY too, which then has the reading's error.
    const [, copied] = await Promise.allSettled([input, copy(columns)])
    if (copied.status === 'rejected') throw copied.reason
    return copied.value
  })
}

async function fastImport(client: pg.PoolClient, source: Readable, options: ImportOptions, usersEmpty: boolean): Promise<ImportResult | undefined> {
  const rows = new LegacyCsvTypedRows()
  const hash = createHash('sha256')
  const { onProgress } = options
  await client.query(CREATE_USER_STAGING)
  const rebuild = await dropSecondaryIndexes(client)
  const inserted = await copyTyped(client, source, rows, hash, onProgress)
  if (rows.doubt) return undefined
  onProgress?.({ phase: 'check', records: rows.records })
  // The unique index on hook_id, built again, is the check that no hook_id repeats.
  for (const definition of rebuild) await client.query(definition)
  onProgress?.({ phase: 'merge', records: rows.records })
  const users = (await client.query<MergeCounts>(mergeStagedUsers(usersEmpty))).rows[0]!
  return await recordImport(client, options.fileName, hash, rows.records, { total: inserted, inserted, updated: 0 }, users)
}

// Building an index over a million rows at once is about twice as fast as growing it one row at
// a time, so a first import into an empty table (the fast path always; the thorough one from
// 50,000 rows) drops the secondary indexes and builds them again after the insert, in the same
// transaction (readers wait for it; there is nothing to read yet). Constraint indexes (the
// primary key) stay.
async function dropSecondaryIndexes(client: pg.PoolClient): Promise<string[]> {
  const { rows } = await client.query<{ name: string; definition: string }>(`
    select format('%I.%I', i.schemaname, i.indexname) as name, i.indexdef as definition
    from pg_indexes i
    where i.schemaname = 'legacy' and i.tablename = 'webhooks'
      and not exists (select 1 from pg_constraint c where c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)`)
  for (const row of rows) await client.query(`drop index ${row.name}`)
  return rows.map((r) => r.definition)
}

/**
 * Imports one CSV file. Resolves 'rejected', after reporting every problem through onProblem,
 * when any row is bad; nothing is written then. Throws CsvHeaderError when the header line
 * itself is unusable. `source` is the file's content, or a function that opens it afresh each
 * time it is called: only a file that can be read twice may take the fast path of a first
 * import, as a file with a problem is read again by the thorough one.
 */
export async function importLegacyCsv(pool: pg.Pool, source: Readable | (() => Readable), options: ImportOptions): Promise<ImportResult> {
  const client = await pool.connect()
  try {
    const result = await importWith(client, source, options)
    client.release()
    return result
  } catch (error) {
    // A connection that cannot even roll back is broken: it leaves the pool for good.
    const broken = await client.query('rollback').then(
      () => undefined,
      () => true,
    )
    client.release(broken)
    throw error
  }
}

async function importWith(client: pg.PoolClient, source: Readable | (() => Readable), options: ImportOptions): Promise<ImportResult> {
  await client.query('begin')
  await client.query(IMPORT_LOCK)
  // Timestamps without an offset are read as UTC, whatever the server's own zone.
  await client.query(`set local timezone = 'UTC'; set local work_mem = '256MB'`)
  const empty = (
    await client.query<{ hooks: boolean; users: boolean }>(
      'select not exists (select 1 from legacy.webhooks) as hooks, not exists (select 1 from legacy.oauth_users) as users',
    )
  ).rows[0]!
  if (typeof source === 'function') {
    if (empty.hooks) {
      await client.query('savepoint fast')
      const imported = await fastImport(client, source(), options, empty.users).catch((error: unknown) => {
        if (!isFastPathError(error)) throw error
        return undefined
      })
      if (imported !== undefined) return imported
      await client.query('rollback to savepoint fast')
    }
    source = source()
  }
  return await thoroughImport(client, source, options, empty)
}

async function thoroughImport(
  client: pg.PoolClient,
  source: Readable,
  options: ImportOptions,
  empty: { hooks: boolean; users: boolean },
): Promise<ImportResult> {
  const records = new LegacyCsvRecords()
  const hash = createHash('sha256')
  const { onProgress } = options
  const reject = async (): Promise<ImportResult> => {
    const problems = await reportProblems(client, options.onProblem)
    await client.query('rollback')
    return { status: 'rejected', records: records.records, problems }
  }
  await client.query(CREATE_STAGING)
  await copyIntoStaging(client, source, records, hash, onProgress)

  onProgress?.({ phase: 'check', records: records.records })
  if (records.malformed > 0) {
    await client.query(FIND_PROBLEMS)
    return await reject()
  }
  onProgress?.({ phase: 'merge', records: records.records })
  await client.query('savepoint merge')
  let hooks: MergeCounts
  try {
    const rebuild = empty.hooks && records.records >= 50_000 ? await dropSecondaryIndexes(client) : []
    hooks = (await client.query<MergeCounts>(mergeHooks(empty.hooks))).rows[0]!
    for (const definition of rebuild) await client.query(definition)
  } catch (error) {
    if (!isRowError(error)) throw error
    await client.query('rollback to savepoint merge')
    await client.query(FIND_PROBLEMS)
    return await reject()
  }
  // Fewer hooks than rows: some hook_id repeats, and its lines must agree.
  if (hooks.total < records.records) {
    await client.query(FIND_CONFLICTS)
    const { rows } = await client.query<{ n: number }>('select count(*) as n from pg_temp.import_problem')
    if (rows[0]!.n > 0) return await reject()
  }
  const users = (await client.query<MergeCounts>(mergeUsers(empty.users))).rows[0]!

  return await recordImport(client, options.fileName, hash, records.records, hooks, users)
}

async function recordImport(
  client: pg.PoolClient,
  fileName: string,
  hash: ReturnType<typeof createHash>,
  records: number,
  hooks: MergeCounts,
  users: MergeCounts,
): Promise<ImportResult> {
  const counts: ImportCounts = {
    records,
    hooksInserted: hooks.inserted,
    hooksUpdated: hooks.updated,
    hooksUnchanged: hooks.total - hooks.inserted - hooks.updated,
    usersInserted: users.inserted,
    usersUpdated: users.updated,
    usersUnchanged: users.total - users.inserted - users.updated,
  }
  await client.query(
    `insert into app.legacy_import (file_name, file_sha256, rows, hooks_inserted, hooks_updated, hooks_unchanged, users_inserted, users_updated)
     values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [fileName, hash.digest('hex'), counts.records, counts.hooksInserted, counts.hooksUpdated, counts.hooksUnchanged, counts.usersInserted, counts.usersUpdated],
  )
  await client.query('commit')
  return { status: 'imported', ...counts }
}
