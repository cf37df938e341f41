import { loadavg } from 'node:os'
import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely'
import pg from 'pg'
import { connect, type Db } from '../../src/db/connect.js'
import type { Database } from '../../src/db/database.js'
import { migrateTo, migrateToLatest } from '../../src/db/migrator.js'
import { searchAudit, type AuditFilter, type AuditRow } from '../../src/migration/audit-search.js'
import { RARE_ACTIONS, SEED_VERSION, seedAuditEvents, seedShape, type SeedShape } from './audit-search-seed.js'
import { freshDatabase } from './legacy-import.js'
import { random } from '../helpers/seeded-random.js'
import type { SummaryRow } from './summary.js'

// The staff console's audit search on a log of many millions of events: for each filter alone,
// the first page (50 events, as /staff/audit asks) through searchAudit, the whole function as
// the console calls it (names resolved to ids first), over many real values of the filter
// taken from the log; and deep pages (after an event far down the list), which keyset paging
// is meant to make cost what the first does. Every sample runs once to warm the cache, then
// in three measured rounds: the figures are a warm server's, from the round that neighbours on
// a shared machine disturbed least (the lowest p99), with every round's p99 beside them. The
// slowest sample of each filter is shown with its plans (EXPLAIN ANALYZE, BUFFERS), run again.
// The seeded database is kept, one per size, and used again by a later run of that size,
// migrated to the latest first (an index added since is built on its rows): seeding takes a
// while.

export const TARGET_P99_MS = 20
const PAGE = 50
/** A database per size, so that a small run leaves the large one seeded. */
const databaseFor = (events: number): string => `bench_audit_search_${events}`
/** The last migration before the console's indexes: the rows are loaded before those are built. */
const BEFORE_INDEXES = '0016-staff'

export interface SeedFigures {
  shape: SeedShape
  /** Writing the rows, building the indexes of the migrations after them, vacuum and analyze. */
  rowsMs: number
  indexesMs: number
  vacuumMs: number
  /** False when a database seeded earlier was used again. */
  seededNow: boolean
}

interface Sample {
  filter: AuditFilter
  before?: number
}

interface Case {
  name: string
  deep: boolean
  samples: Sample[]
}

export interface CaseFigures {
  name: string
  deep: boolean
  samples: number
  /** From the quietest round. */
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** Each round's p99. */
  roundsP99Ms: number[]
  slowest: Sample
  plans: string[]
}

export interface AuditSearchFigures {
  seed: SeedFigures
  postgres: string
  tableMb: number
  indexesMb: number
  indexes: string[]
  loadBefore: number[]
  loadAfter: number[]
  cases: CaseFigures[]
}

async function seedRecord(db: Db): Promise<(Omit<SeedFigures, 'shape' | 'seededNow'> & { events: number; version: number }) | undefined> {
  try {
    const { rows } = await sql<{ events: number; version: number; rows_ms: number; indexes_ms: number; vacuum_ms: number }>`
      select events, version, rows_ms, indexes_ms, vacuum_ms from bench_seed.done`.execute(db.db)
    const r = rows[0]
    return r === undefined ? undefined : { events: Number(r.events), version: r.version, rowsMs: r.rows_ms, indexesMs: r.indexes_ms, vacuumMs: r.vacuum_ms }
  } catch {
    return undefined
  }
}

/** A database of `events` events: the one kept from an earlier run when it has them, or a new one. */
async function seededDatabase(adminUrl: string, events: number, log: (line: string) => void): Promise<{ url: string; seed: SeedFigures }> {
  const shape = seedShape(events)
  const DATABASE = databaseFor(events)
  const kept = new URL(adminUrl)
  kept.pathname = `/${DATABASE}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  const exists = ((await admin.query('select 1 from pg_database where datname = $1', [DATABASE])).rowCount ?? 0) > 0
  await admin.end()
  if (exists) {
    const db = connect(kept.toString(), { max: 1 })
    try {
      const record = await seedRecord(db)
      if (record?.events === events && record.version === SEED_VERSION) {
        // An index added since the seed is built on the seeded rows, as it would be in service.
        if ((await migrateToLatest(db.db)).length > 0) await sql`analyze app.audit_event`.execute(db.db)
        log(`using the ${events.toLocaleString('en-US')} events seeded earlier in ${DATABASE}`)
        return { url: kept.toString(), seed: { shape, rowsMs: record.rowsMs, indexesMs: record.indexesMs, vacuumMs: record.vacuumMs, seededNow: false } }
      }
    } finally {
      await db.close()
    }
  }
  const url = await freshDatabase(adminUrl, DATABASE)
  const db = connect(url, { max: 1 })
  try {
    await migrateTo(db.db, BEFORE_INDEXES)
    log(`seeding ${events.toLocaleString('en-US')} events into ${DATABASE}`)
    let started = performance.now()
    await seedAuditEvents(db.db, shape, (written) => log(`  ${written.toLocaleString('en-US')} events written, ${((performance.now() - started) / 1000).toFixed(0)} s`))
    const rowsMs = performance.now() - started
    started = performance.now()
    await db.db.connection().execute(async (conn) => {
      await sql`set maintenance_work_mem = '1GB'`.execute(conn)
      await migrateToLatest(conn)
    })
    const indexesMs = performance.now() - started
    log(`  indexes of the later migrations built in ${(indexesMs / 1000).toFixed(0)} s`)
    started = performance.now()
    // What autovacuum would have done to a log that grew over months.
    await sql`vacuum (analyze) app.audit_event`.execute(db.db)
    const vacuumMs = performance.now() - started
    await sql`create table bench_seed.done as select ${events}::bigint as events, ${SEED_VERSION}::int as version,
      ${rowsMs}::float8 as rows_ms, ${indexesMs}::float8 as indexes_ms, ${vacuumMs}::float8 as vacuum_ms`.execute(db.db)
    return { url, seed: { shape, rowsMs, indexesMs, vacuumMs, seededNow: true } }
  } finally {
    await db.close()
  }
}

type LoggedEvent = Pick<AuditRow, 'id' | 'actor_github_id' | 'actor_login' | 'action' | 'owner_id' | 'owner_login' | 'repo_id' | 'repo_name' | 'hook_id' | 'installation_id' | 'outcome'> & {
  /** The repository's name before it was renamed, if it was. */
  former_name: string | null
  /** Whether the name is one that many owners give a repository. */
  shared_name: boolean
}

/** The filters, each with `count` values taken from events of the log (busy ones more often, as people ask about them). */
async function cases(db: Db, shape: SeedShape, count: number): Promise<Case[]> {
  const rand = random(42)
  const percent = Math.min(100, (100 * 40_000) / shape.events)
  const { rows } = await sql<LoggedEvent>`
    select e.id, e.actor_github_id, e.actor_login, e.action, e.owner_id, e.owner_login, e.repo_id, e.repo_name, e.hook_id, e.installation_id, e.outcome, r.former_name,
      exists (select from bench_seed.common_name c where c.name = e.repo_name) as shared_name
    from app.audit_event e tablesample system (${percent}) repeatable (42)
    left join bench_seed.repo r on r.repo_id = e.repo_id`.execute(db.db)
  const pick = <T>(from: T[]): T[] => Array.from({ length: count }, () => from[Math.floor(rand() * from.length)]!)
  const samples = (from: LoggedEvent[], filter: (e: LoggedEvent) => AuditFilter, deep = false): Sample[] =>
    pick(from).map((e) => (deep ? { filter: filter(e), before: e.id } : { filter: filter(e) }))
  const has = (key: keyof LoggedEvent): LoggedEvent[] => rows.filter((e) => e[key] !== null)
  const recordedAs = has('repo_id').filter((e) => e.repo_name !== e.former_name)
  const formerly = has('repo_id').filter((e) => e.repo_name === e.former_name)
  const outcomes = [...new Set(rows.map((e) => e.outcome))]
  const days = shape.days * 86_400_000
  const window = (): AuditFilter => {
    const from = shape.start.getTime() + rand() * days
    // From an hour to a month, as often short as long.
    const span = 3_600_000 * Math.exp(rand() * Math.log(24 * 30))
    return { from: new Date(from), to: new Date(from + span) }
  }
  // The last event of page 999 (or the oldest, in a log too small to have a page 1,000).
  const thousandth = async (filter: string): Promise<number> => {
    const { rows: at } = await sql<{ id: number }>`
      (select id, 0 as o from app.audit_event ${sql.raw(filter)} order by at desc, id desc offset ${PAGE * 999 - 1} limit 1)
      union all (select id, 1 from app.audit_event ${sql.raw(filter)} order by at, id limit 1)
      order by o limit 1`.execute(db.db)
    return at[0]!.id
  }
  const common = 'webhook_received'
  const { rows: shared } = await sql<{ repos: number }>`
    select count(*)::float8 / (select count(*) from bench_seed.common_name) as repos from bench_seed.repo r
    join bench_seed.common_name c on c.name = r.name`.execute(db.db)
  const sharing = Math.round(shared[0]!.repos)
  // The seed gives some owners' logins to a second account (a rename freed it): 1 in 500.
  const { rows: twice } = await sql<{ login: string }>`
    select o.login from bench_seed.owner o join bench_seed.owner before on before.former_login = o.login and before.owner_no <> o.owner_no`.execute(db.db)
  const n = (x: number): string => x.toLocaleString('en-US')
  const noFilterPage1000 = await thousandth('')
  const commonPage1000 = await thousandth(`where action = '${common}'`)
  return [
    { name: 'user by login', deep: false, samples: samples(has('actor_login'), (e) => ({ user: e.actor_login! })) },
    { name: 'user by id', deep: false, samples: samples(has('actor_github_id'), (e) => ({ user: String(e.actor_github_id) })) },
    { name: 'owner by login', deep: false, samples: samples(has('owner_login'), (e) => ({ owner: e.owner_login! })) },
    { name: 'owner by a login two accounts had', deep: false, samples: pick(twice).map((e) => ({ filter: { owner: e.login } })) },
    { name: 'owner by id', deep: false, samples: samples(has('owner_id'), (e) => ({ owner: String(e.owner_id) })) },
    { name: 'repo by owner/name', deep: false, samples: samples(recordedAs, (e) => ({ repo: `${e.owner_login}/${e.repo_name}` })) },
    { name: 'repo by a former owner/name', deep: false, samples: samples(formerly, (e) => ({ repo: `${e.owner_login}/${e.repo_name}` })) },
    { name: 'repo by id', deep: false, samples: samples(has('repo_id'), (e) => ({ repo: String(e.repo_id) })) },
    { name: 'repo by a name alone, one of its own', deep: false, samples: samples(has('repo_id').filter((e) => !e.shared_name), (e) => ({ repo: e.repo_name! })) },
    { name: `repo by a name alone, one many owners use (~${n(sharing)} repositories)`, deep: false, samples: samples(has('repo_id').filter((e) => e.shared_name), (e) => ({ repo: e.repo_name! })) },
    { name: 'hook', deep: false, samples: samples(has('hook_id'), (e) => ({ hook: e.hook_id! })) },
    { name: 'installation', deep: false, samples: samples(has('installation_id'), (e) => ({ installation: e.installation_id! })) },
    { name: 'action (as logged: mostly common)', deep: false, samples: samples(rows, (e) => ({ action: e.action })) },
    { name: `action, rare (${RARE_ACTIONS.join(', ')})`, deep: false, samples: pick(RARE_ACTIONS).map((action) => ({ filter: { action } })) },
    { name: 'outcome (each as often)', deep: false, samples: pick(outcomes).map((outcome) => ({ filter: { outcome } })) },
    { name: 'from/to (an hour to a month)', deep: false, samples: Array.from({ length: count }, () => ({ filter: window() })) },
    { name: 'no filter', deep: false, samples: Array.from({ length: count }, () => ({ filter: {} })) },
    { name: 'no filter, page 1,000', deep: true, samples: Array.from({ length: count }, () => ({ filter: {}, before: noFilterPage1000 })) },
    { name: `action ${common}, page 1,000`, deep: true, samples: Array.from({ length: count }, () => ({ filter: { action: common }, before: commonPage1000 })) },
    { name: 'no filter, after a random event', deep: true, samples: samples(rows, () => ({}), true) },
    { name: 'user by login, after a random event of theirs', deep: true, samples: samples(has('actor_login'), (e) => ({ user: e.actor_login! }), true) },
    { name: 'owner by id, after a random event of its', deep: true, samples: samples(has('owner_id'), (e) => ({ owner: String(e.owner_id) }), true) },
    { name: 'repo by owner/name, after a random event of its', deep: true, samples: samples(recordedAs, (e) => ({ repo: `${e.owner_login}/${e.repo_name}` }), true) },
  ]
}

const run = (db: Kysely<Database>, s: Sample) => searchAudit(db, s.filter, { limit: PAGE, ...(s.before === undefined ? {} : { before: s.before }) })

async function time(db: Db, c: Case): Promise<{ ms: number[]; slowest: Sample }> {
  const ms: number[] = []
  let slowest = c.samples[0]!
  for (const s of c.samples) {
    const started = performance.now()
    await run(db.db, s)
    const took = performance.now() - started
    if (took > Math.max(0, ...ms)) slowest = s
    ms.push(took)
  }
  return { ms, slowest }
}

/** The plans of the statements one search runs (the name lookups, then the page). */
async function plans(db: Db, s: Sample): Promise<string[]> {
  const queries: CompiledQuery[] = []
  // The same pool, with kysely's log to catch each statement as sent.
  const logged = new Kysely<Database>({ dialect: new PostgresDialect({ pool: db.pool }), log: (e) => void (e.level === 'query' && queries.push(e.query)) })
  await run(logged, s)
  const out: string[] = []
  for (const q of queries) {
    const { rows } = await db.pool.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${q.sql}`, [...q.parameters])
    out.push(`${q.sql.replace(/\s+/g, ' ').trim()}\n  -- ${JSON.stringify(q.parameters)}\n${rows.map((r) => `  ${r['QUERY PLAN']}`).join('\n')}`)
  }
  return out
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!
}

export async function benchAuditSearch(adminUrl: string, options: { events: number; samples?: number; rounds?: number; log?: (line: string) => void }): Promise<AuditSearchFigures> {
  const log = options.log ?? (() => {})
  const { url, seed } = await seededDatabase(adminUrl, options.events, log)
  const db = connect(url, { max: 1 })
  try {
    const all = await cases(db, seed.shape, options.samples ?? 250)
    const loadBefore = loadavg()
    for (const c of all) for (const s of c.samples) await run(db.db, s)
    const rounds: { sorted: number[]; slowest: Sample }[][] = []
    for (let round = 0; round < (options.rounds ?? 3); round++) {
      const measured: { sorted: number[]; slowest: Sample }[] = []
      for (const c of all) {
        const { ms, slowest } = await time(db, c)
        measured.push({ sorted: ms.sort((a, b) => a - b), slowest })
      }
      rounds.push(measured)
    }
    const figures = all.map((c, i): CaseFigures => {
      const each = rounds.map((r) => r[i]!)
      const roundsP99Ms = each.map((r) => percentile(r.sorted, 0.99))
      const { sorted, slowest } = each[roundsP99Ms.indexOf(Math.min(...roundsP99Ms))]!
      return { name: c.name, deep: c.deep, samples: sorted.length, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), maxMs: sorted.at(-1)!, roundsP99Ms, slowest, plans: [] }
    })
    const loadAfter = loadavg()
    for (const c of figures) c.plans = await plans(db, c.slowest)
    const { rows: sizes } = await sql<{ version: string; table_mb: number; indexes_mb: number }>`
      select current_setting('server_version') as version, pg_table_size('app.audit_event') / 1048576.0 as table_mb,
        pg_indexes_size('app.audit_event') / 1048576.0 as indexes_mb`.execute(db.db)
    const { rows: indexes } = await sql<{ def: string }>`
      select indexdef || ' -- ' || pg_size_pretty(pg_relation_size((schemaname || '.' || indexname)::regclass)) as def
      from pg_indexes where schemaname = 'app' and tablename = 'audit_event' order by indexname`.execute(db.db)
    return {
      seed,
      postgres: sizes[0]!.version,
      tableMb: Number(sizes[0]!.table_mb),
      indexesMb: Number(sizes[0]!.indexes_mb),
      indexes: indexes.map((r) => r.def),
      loadBefore,
      loadAfter,
      cases: figures,
    }
  } finally {
    await db.close()
  }
}

export function auditSearchReport(f: AuditSearchFigures, options: { plans: boolean }): { text: string; ok: boolean } {
  const n = (x: number): string => x.toLocaleString('en-US')
  const ms = (x: number): string => `${x.toFixed(1)} ms`.padStart(9)
  const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ')
  const s = f.seed
  const ok = f.cases.every((c) => c.p99Ms < TARGET_P99_MS)
  const width = Math.max(...f.cases.map((c) => c.name.length))
  const lines = [
    `audit search, ${n(s.shape.events)} events over ${s.shape.days} days (${n(s.shape.users)} users, ${n(s.shape.owners)} owners, ${n(s.shape.repos)} repositories), Postgres ${f.postgres}`,
    `  seed${s.seededNow ? '' : ' (done by an earlier run, kept)'}: rows ${(s.rowsMs / 1000).toFixed(0)} s, indexes ${(s.indexesMs / 1000).toFixed(0)} s, vacuum and analyze ${(s.vacuumMs / 1000).toFixed(0)} s; table ${n(Math.round(f.tableMb))} MB, its indexes ${n(Math.round(f.indexesMb))} MB`,
    `  a page of ${PAGE} through searchAudit, ${f.cases[0]!.samples} samples a row, warm cache (each sample run once before), ${f.cases[0]!.roundsP99Ms.length} rounds;`,
    `  p50, p99, max of the quietest round; load average ${load(f.loadBefore)} before, ${load(f.loadAfter)} after`,
    `  ${'filter'.padEnd(width)}       p50       p99       max   p99 of each round`,
    ...f.cases.map(
      (c) =>
        `  ${c.name.padEnd(width)} ${ms(c.p50Ms)} ${ms(c.p99Ms)} ${ms(c.maxMs)}   ${c.roundsP99Ms.map((x) => x.toFixed(1)).join(', ')}${c.p99Ms < TARGET_P99_MS ? '' : `  MISSED (slowest: ${JSON.stringify(c.slowest)})`}`,
    ),
    `  target: p99 under ${TARGET_P99_MS} ms for every row: ${ok ? 'met' : 'MISSED'}`,
  ]
  if (options.plans) {
    lines.push('', 'indexes of app.audit_event:', ...f.indexes.map((i) => `  ${i}`), '', 'plans of the slowest sample of each row, run again (EXPLAIN (ANALYZE, BUFFERS), warm):')
    for (const c of f.cases) lines.push('', `-- ${c.name}: ${JSON.stringify(c.slowest)}`, ...c.plans)
  }
  return { text: `${lines.join('\n')}\n`, ok }
}

export function auditSearchRows(f: AuditSearchFigures): SummaryRow[] {
  const worst = f.cases.reduce((a, b) => (b.p99Ms > a.p99Ms ? b : a))
  const p50s = f.cases.map((c) => c.p50Ms)
  return [
    {
      what: `audit search at ${f.seed.shape.events.toLocaleString('en-US')} events: the first page of each of ${f.cases.length} filters, and deep pages`,
      measured: `p99 at most **${worst.p99Ms.toFixed(1)} ms** (${worst.name}); p50 ${Math.min(...p50s).toFixed(1)}-${Math.max(...p50s).toFixed(1)} ms`,
      goal: `p99 under ${TARGET_P99_MS} ms for every filter`,
      met: auditSearchReport(f, { plans: false }).ok,
    },
  ]
}
