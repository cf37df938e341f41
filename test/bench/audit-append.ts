import { sql, type Generated } from 'kysely'
import { connect, type Db } from '../../src/db/connect.js'
import type { AuditEventTable } from '../../src/db/database.js'
import { migrateToLatest } from '../../src/db/migrator.js'
import { appendAudit, auditRow, sealPending, verifyAuditChain, type AuditEvent } from '../../src/migration/audit.js'
import { freshDatabase } from './legacy-import.js'
import type { SummaryRow } from './summary.js'

// What the audit chain costs the service: 16 writers (16 connections), each transaction one
// event and 2 ms of other work, through appendAudit as the service writes it, against the same
// transactions writing the same row into a plain table of the same columns, with the event
// table's key and indexes (no trigger, not the sealer's index). The service's sealer runs
// meanwhile, as it does in every instance, so its work is in the figure. Variants alternate,
// three rounds each, so that a neighbour's load on a shared machine falls on both.

export const TARGET_RATIO = 0.8

export interface AuditAppendFigures {
  fsync: string
  synchronousCommit: string
  writers: number
  seconds: number
  plainRate: number
  auditRate: number
  ratio: number
  /** Events still unsealed when the writers stopped, and how long the sealer then took to seal them. */
  unsealedAtEnd: number
  drainMs: number
  chainIntact: boolean
}

const EVENT: AuditEvent = {
  actor: { kind: 'user', githubId: 1, login: 'mona' },
  action: 'batch_planned',
  target: { ownerId: 100, ownerLogin: 'acme' },
  outcome: 'ok',
  requestId: 'bench',
  detail: { role: 'admin', action: 'install', repos: 3, hiddenRepos: 0, orgHooks: 1 },
}

// The event table's key and every index it has (the staff console's search added eleven in
// migration 0017, after this benchmark was written with the four of its time), copied from the
// table itself so the two stay alike, less the one only the sealer uses: that one is the chain's.
async function createPlainTable(db: Db): Promise<void> {
  await sql`
    create table bench_plain_event (like app.audit_event including defaults including indexes);
    alter table bench_plain_event alter column at set default clock_timestamp();
    alter table bench_plain_event alter column id add generated always as identity;`.execute(db.db)
  const sealers = await sql<{ name: string }>`
    select indexname as name from pg_indexes
    where schemaname = current_schema() and tablename = 'bench_plain_event' and indexdef like '%(xact_id, id)%'`.execute(db.db)
  if (sealers.rows.length !== 1) throw new Error(`expected one copy of the sealer's index on the plain table, found ${sealers.rows.length}`)
  await sql`drop index ${sql.id(sealers.rows[0]!.name)}`.execute(db.db)
}

type Write = (db: Db['db']) => Promise<void>

const auditWrite: Write = async (trx) => {
  await appendAudit(trx, EVENT)
}

// The row appendAudit writes, built the same way (kysely, one insert returning the id).
const plainWrite: Write = async (trx) => {
  await trx
    .withTables<{ bench_plain_event: Omit<AuditEventTable, 'id' | 'at'> & { id: Generated<number>; at: Generated<Date> } }>()
    .insertInto('bench_plain_event')
    .values(auditRow(EVENT))
    .returning('id')
    .executeTakeFirstOrThrow()
}

/** Transactions committed per second by `writers` writers for `seconds`. */
async function rate(db: Db, writers: number, seconds: number, write: Write): Promise<{ committed: number; ms: number }> {
  let committed = 0
  const started = performance.now()
  const until = started + seconds * 1000
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < until) {
        await db.db.transaction().execute(async (trx) => {
          await write(trx)
          await sql`select pg_sleep(0.002)`.execute(trx)
        })
        committed++
      }
    }),
  )
  return { committed, ms: performance.now() - started }
}

export async function benchAuditAppend(adminUrl: string, options: { seconds: number; writers?: number; rounds?: number }): Promise<AuditAppendFigures> {
  const writers = options.writers ?? 16
  const rounds = options.rounds ?? 3
  const url = await freshDatabase(adminUrl, 'bench_audit')
  const db = connect(url, { max: writers })
  const sealerDb = connect(url, { max: 1 })
  try {
    await migrateToLatest(db.db)
    await createPlainTable(db)
    const settings = await sql<{ fsync: string; synchronous_commit: string }>`select current_setting('fsync') as fsync, current_setting('synchronous_commit') as synchronous_commit`.execute(db.db)
    const totals = { plain: { committed: 0, ms: 0 }, audit: { committed: 0, ms: 0 } }
    let unsealedAtEnd = 0
    let drainMs = 0
    for (let round = 0; round < rounds; round++) {
      const plain = await rate(db, writers, options.seconds, plainWrite)
      totals.plain.committed += plain.committed
      totals.plain.ms += plain.ms
      // The service's sealer: a turn every 200 ms.
      let sealing = true
      const sealer = (async () => {
        while (sealing) {
          await sealPending(sealerDb.db, 0)
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      })()
      const audit = await rate(db, writers, options.seconds, auditWrite)
      sealing = false
      await sealer
      totals.audit.committed += audit.committed
      totals.audit.ms += audit.ms
      unsealedAtEnd = Math.max(unsealedAtEnd, (await verifyAuditChain(db.db)).pending)
      const drained = performance.now()
      await sealPending(sealerDb.db, 10_000)
      drainMs = Math.max(drainMs, performance.now() - drained)
    }
    const check = await verifyAuditChain(db.db)
    const plainRate = totals.plain.committed / (totals.plain.ms / 1000)
    const auditRate = totals.audit.committed / (totals.audit.ms / 1000)
    return {
      fsync: settings.rows[0]!.fsync,
      synchronousCommit: settings.rows[0]!.synchronous_commit,
      writers,
      seconds: options.seconds * rounds,
      plainRate,
      auditRate,
      ratio: auditRate / plainRate,
      unsealedAtEnd,
      drainMs,
      chainIntact: check.intact && check.pending === 0 && check.events === totals.audit.committed,
    }
  } finally {
    await sealerDb.close()
    await db.close()
  }
}

export function auditAppendReport(all: AuditAppendFigures[]): { text: string; ok: boolean } {
  const perSecond = (n: number): string => `${Math.round(n).toLocaleString('en-US')}/s`
  const lines = all.flatMap((f) => [
    `audit append, ${f.writers} writers, one event + 2 ms of work per transaction, ${f.seconds} s each (fsync ${f.fsync}, synchronous_commit ${f.synchronousCommit})`,
    `  plain table, same columns and indexes:  ${perSecond(f.plainRate)}`,
    `  appendAudit (sealer running):           ${perSecond(f.auditRate)}`,
    `  ratio: ${f.ratio.toFixed(2)} (target >= ${TARGET_RATIO.toFixed(2)})`,
    `  sealing: at most ${f.unsealedAtEnd} events unsealed when the writers stopped, sealed ${Math.round(f.drainMs)} ms later; chain ${f.chainIntact ? 'intact, every event sealed' : 'NOT intact'}`,
  ])
  return { text: `${lines.join('\n')}\n`, ok: all.every((f) => f.ratio >= TARGET_RATIO && f.chainIntact) }
}

export function auditAppendRows(all: AuditAppendFigures[]): SummaryRow[] {
  return all.map((f) => ({
    what: `audit append, ${f.writers} writers (one event + 2 ms of work a transaction), fsync ${f.fsync}, vs a plain table of the same columns and indexes`,
    measured: `**${f.ratio.toFixed(2)}** (${Math.round(f.auditRate).toLocaleString('en-US')} vs ${Math.round(f.plainRate).toLocaleString('en-US')} transactions/s); chain ${f.chainIntact ? 'intact' : 'NOT intact'}`,
    goal: `at least ${TARGET_RATIO.toFixed(2)}, chain intact`,
    met: f.ratio >= TARGET_RATIO && f.chainIntact,
  }))
}
