import { sql, type Kysely, type Selectable, type Transaction } from 'kysely'
import type { BackgroundWorkTable, Database } from '../db/database.js'

// Background work a person waits on: planning a user's migration, checking an owner's
// coverage. One row per kind and subject says what it is doing, for the page's progress.
//
// At most one job per subject exists at any time. pg-boss's stately policy would let one more
// wait while one runs, but a waiting job whose key is running blocks every other key of the
// queue (its fetch hits the unique index and fetches nothing; pg-boss issue #535). So a
// request while a run is under way only marks the row (`again`), and that run, when it ends,
// sends the next job itself: one more run after it, never a lost request, never two at once.

export type WorkKind = BackgroundWorkTable['kind']
export type Work = Selectable<BackgroundWorkTable>

/** One run of the work, as started: progress and the end are written only while it is the latest. */
export interface WorkRun {
  kind: WorkKind
  subjectId: number
  run: number
}

/** Sends the job, in the transaction given to the transition that calls it. */
export type SendWork = (options: { startAfterSeconds?: number }) => Promise<unknown>

export interface WorkRequest {
  kind: WorkKind
  subjectId: number
  /**
   * Queued or running with no sign of life for this long: its job is gone (its retries spent),
   * and a new one is sent. Longer than the queue's expiry, after which pg-boss has given the
   * old job up.
   */
  staleAfterSeconds: number
  send: SendWork
}

/** Seconds a follow-up run waits, so that pg-boss has completed the job that sent it. */
const FOLLOW_UP_DELAY_SECONDS = 1

/**
 * Asks for the work in the caller's transaction, sending its job there too when none waits:
 * true when one was sent (wake the queue after commit), false when one waits or runs already
 * (a run under way is followed by one more).
 */
export async function requestWork(trx: Transaction<Database>, request: WorkRequest): Promise<boolean> {
  const { kind, subjectId } = request
  const inserted = await trx.insertInto('app.background_work').values({ kind, subject_id: subjectId, state: 'queued' }).onConflict((oc) => oc.doNothing()).returning('run').executeTakeFirst()
  if (inserted !== undefined) {
    await request.send({})
    return true
  }
  const row = await trx
    .selectFrom('app.background_work')
    .select(['state', sql<boolean>`updated_at < now() - make_interval(secs => ${request.staleAfterSeconds})`.as('stale')])
    .where('kind', '=', kind)
    .where('subject_id', '=', subjectId)
    .forUpdate()
    .executeTakeFirstOrThrow()
  const underWay = (row.state === 'queued' || row.state === 'running') && !row.stale
  await trx
    .updateTable('app.background_work')
    .set(
      underWay
        ? { requested_at: sql<Date>`now()`, again: row.state === 'running' }
        : { state: 'queued', again: false, requested_at: sql<Date>`now()`, updated_at: sql<Date>`now()` },
    )
    .where('kind', '=', kind)
    .where('subject_id', '=', subjectId)
    .execute()
  if (underWay) return false
  await request.send({})
  return true
}

/** The job's run begins: it serves every request made so far. */
export async function startWork(db: Kysely<Database>, kind: WorkKind, subjectId: number): Promise<WorkRun> {
  const { run } = await db
    .insertInto('app.background_work')
    .values({ kind, subject_id: subjectId, state: 'running', run: 1, started_at: sql<Date>`now()` })
    .onConflict((oc) =>
      oc.columns(['kind', 'subject_id']).doUpdateSet({
        state: 'running',
        again: false,
        run: sql<number>`app.background_work.run + 1`,
        phase: null,
        done: null,
        total: null,
        message: null,
        started_at: sql<Date>`now()`,
        finished_at: null,
        updated_at: sql<Date>`now()`,
      }),
    )
    .returning('run')
    .executeTakeFirstOrThrow()
  return { kind, subjectId, run }
}

/** Reports how far a long task has come: its phase, and what is done of how many. */
export type Progress = (phase: string, done: number, total: number) => Promise<void>

/** For a task nobody watches. */
export const unwatched: Progress = async () => {}

/** Where the run is: a cheap update on its own, so a page sees it at once. */
export async function reportProgress(db: Kysely<Database>, run: WorkRun, phase: string, done: number, total: number | null): Promise<void> {
  await db
    .updateTable('app.background_work')
    .set({ phase, done, total, updated_at: sql<Date>`now()` })
    .where('kind', '=', run.kind)
    .where('subject_id', '=', run.subjectId)
    .where('run', '=', run.run)
    .where('state', '=', 'running')
    .execute()
}

export type WorkEnd = { state: 'done'; outcome: string } | { state: 'failed'; message: string }

/**
 * The run ends, in the caller's transaction: done with its outcome, or failed with what to tell
 * the person. Asked for again meanwhile: the row is queued again and the next job sent. False
 * when a later run has taken over (this one outlived its expiry): it writes nothing.
 */
export async function endWork(trx: Transaction<Database>, run: WorkRun, end: WorkEnd, send: SendWork): Promise<boolean> {
  const row = await trx
    .selectFrom('app.background_work')
    .select(['again'])
    .where('kind', '=', run.kind)
    .where('subject_id', '=', run.subjectId)
    .where('run', '=', run.run)
    .where('state', '=', 'running')
    .forUpdate()
    .executeTakeFirst()
  if (row === undefined) return false
  await trx
    .updateTable('app.background_work')
    .set({
      state: row.again ? 'queued' : end.state,
      again: false,
      outcome: end.state === 'done' ? end.outcome : null,
      message: end.state === 'failed' ? end.message : null,
      finished_at: sql<Date>`now()`,
      updated_at: sql<Date>`now()`,
    })
    .where('kind', '=', run.kind)
    .where('subject_id', '=', run.subjectId)
    .execute()
  if (row.again) await send({ startAfterSeconds: FOLLOW_UP_DELAY_SECONDS })
  return true
}

/**
 * The run's progress, as its tasks report it, written behind them: a report never waits on
 * the database, and while one write is under way only the latest report is kept for the next.
 * (A write that lands after the run ended changes nothing: reportProgress wants it running.)
 */
export function progressOf(db: Kysely<Database>, run: WorkRun): Progress {
  let latest: [string, number, number] | undefined
  let writing = false
  const write = async (): Promise<void> => {
    while (latest !== undefined) {
      const [phase, done, total] = latest
      latest = undefined
      // Progress is for the page only: a write that fails leaves the last one shown.
      await reportProgress(db, run, phase, done, total).catch(() => {})
    }
    writing = false
  }
  return async (phase, done, total) => {
    latest = [phase, done, total]
    if (writing) return
    writing = true
    void write()
  }
}

/** The work of these subjects, as far as any was ever asked for. */
export async function loadWork(db: Kysely<Database>, kind: WorkKind, subjectIds: readonly number[]): Promise<Work[]> {
  if (subjectIds.length === 0) return []
  return db.selectFrom('app.background_work').selectAll().where('kind', '=', kind).where('subject_id', 'in', subjectIds).orderBy('subject_id').execute()
}

/** Queued or running: the page shows progress and refreshes. */
export function underWay(work: Work | undefined): boolean {
  return work !== undefined && (work.state === 'queued' || work.state === 'running')
}
