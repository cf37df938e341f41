import { sql, type Kysely } from 'kysely'
import type { BatchState, Database } from '../db/database.js'

// Where a batch stands, and every way it moves: the only module that writes `app.batch.state`,
// its reason and its installation (migration 0014 ties the installation to the state). Each
// move is one conditional UPDATE, so a move that no longer applies (a second tab, a job run
// again) changes nothing; callers audit the rows a move returns.
//
//   planned ──link──▶ link_issued ──request──▶ request_pending
//      └──────────────────┴──────────────┴──install──▶ installed ◀──▶ adding ──refused──▶ add_refused
//                                                          ▲  └──problem──▶ blocked ──checkedOk──┘
//   any installed state ──uninstalled──▶ planned

export const INSTALLED: readonly BatchState[] = ['installed', 'adding', 'add_refused', 'blocked']
const NOT_INSTALLED: readonly BatchState[] = ['planned', 'link_issued', 'request_pending']

const states = (list: readonly BatchState[]) => sql<boolean>`state = any(${sql.val(list)}::text[])`
const now = sql<Date>`now()`

/** One batch, or the owner's (one user's, or everyone's). */
export type Which = { batchId: number } | { ownerId: number; userId?: number }
const matching = (which: Which) => {
  if ('batchId' in which) return sql<boolean>`id = ${which.batchId}`
  if (which.userId === undefined) return sql<boolean>`owner_id = ${which.ownerId}`
  return sql<boolean>`owner_id = ${which.ownerId} and user_id = ${which.userId}`
}

/** The install link went out: planned moves to link_issued; any later state stays. */
export async function linkIssued(db: Kysely<Database>, batchId: number): Promise<void> {
  await db.updateTable('app.batch').set({ state: 'link_issued', updated_at: now }).where('id', '=', batchId).where('state', '=', 'planned').execute()
}

/** A member's request reached GitHub's org owners; an installation that came first wins. */
export async function requestPending(db: Kysely<Database>, batchId: number, approvers: string[]): Promise<void> {
  await db.updateTable('app.batch').set({ state: 'request_pending', approvers, updated_at: now }).where('id', '=', batchId).where(states(NOT_INSTALLED)).execute()
}

/**
 * The batches given (by id, or the owner's, or one user's of that owner) have this
 * installation: those without one are installed now; an installed one takes it and keeps its
 * state. Every batch of the account takes its login as GitHub gives it today (a renamed
 * organization). Returns the batches whose installation changed.
 */
export async function installed(db: Kysely<Database>, installation: { id: number; accountId: number; accountLogin: string }, which: Which): Promise<{ id: number }[]> {
  const moved = await db
    .updateTable('app.batch')
    .set({
      installation_id: installation.id,
      state: sql<BatchState>`case when ${states(NOT_INSTALLED)} then 'installed' else state end`,
      state_reason: sql<string | null>`case when ${states(NOT_INSTALLED)} then null else state_reason end`,
      updated_at: now,
    })
    .where(matching(which))
    .where((eb) => eb.or([eb('installation_id', 'is', null), eb('installation_id', '<>', installation.id)]))
    .returning('id')
    .execute()
  await db.updateTable('app.batch').set({ owner_login: installation.accountLogin }).where('owner_id', '=', installation.accountId).where('owner_login', '<>', installation.accountLogin).execute()
  return moved
}

/** The installation is gone: its batches can be installed again, with why when there is a reason to show. */
export async function uninstalled(db: Kysely<Database>, which: { installationId: number } | { batchId: number }, reason: string | null = null): Promise<{ id: number }[]> {
  return db
    .updateTable('app.batch')
    .set({ state: sql<BatchState>`case when ${states(INSTALLED)} then 'planned' else state end`, installation_id: null, state_reason: reason, updated_at: now })
    // Found by a coverage check: checked now.
    .$if(reason !== null, (q) => q.set({ coverage_checked_at: now }))
    .where('installationId' in which ? sql<boolean>`installation_id = ${which.installationId}` : matching(which))
    .returning('id')
    .execute()
}

/**
 * A coverage check found a problem (suspended, refused, GitHub did not answer): an installed
 * batch is blocked, with the problem to read; one not installed keeps its state and shows the
 * problem. An add run under way is never touched: it asks for a check when it ends.
 */
export async function checked(
  db: Kysely<Database>,
  which: Which,
  problem: string,
  /** False when GitHub did not answer at all: the last check's time still stands. */
  stamp = true,
): Promise<{ id: number; owner_login: string; user_id: number; installation_id: number | null }[]> {
  return db
    .updateTable('app.batch')
    .set({ state: sql<BatchState>`case when state in ('installed', 'add_refused') then 'blocked' else state end`, state_reason: problem, updated_at: now })
    .$if(stamp, (q) => q.set({ coverage_checked_at: now }))
    .where(matching(which))
    .where('state', '<>', 'adding')
    .returning(['id', 'owner_login', 'user_id', 'installation_id'])
    .execute()
}

/**
 * A coverage check of this installation succeeded: in one move, the batches have it (those
 * without one are installed), a blocked one is installed again, and any earlier problem goes
 * (an add_refused batch keeps why it was refused). An add run under way is left alone.
 */
export async function checkedOk(db: Kysely<Database>, installationId: number, which: Which): Promise<void> {
  await db
    .updateTable('app.batch')
    .set({
      installation_id: installationId,
      state: sql<BatchState>`case when ${states([...NOT_INSTALLED, 'blocked'])} then 'installed' else state end`,
      state_reason: sql<string | null>`case when state = 'add_refused' then state_reason end`,
      coverage_checked_at: now,
      updated_at: now,
    })
    .where(matching(which))
    .where('state', '<>', 'adding')
    .execute()
}

/** GitHub answered, for batches not installed: what it could not say before no longer shows. */
export async function answered(db: Kysely<Database>, userId: number, ownerIds: number[]): Promise<void> {
  await db
    .updateTable('app.batch')
    .set({ state_reason: null, updated_at: now })
    .where('user_id', '=', userId)
    .where(sql<boolean>`owner_id = any(${ownerIds}::bigint[])`)
    .where(states(NOT_INSTALLED))
    .execute()
}

/** An add run takes the batch; none when one already runs or there is no installation. */
export async function addingStarted(db: Kysely<Database>, batchId: number) {
  return db
    .updateTable('app.batch')
    .set({ state: 'adding', state_reason: null, updated_at: now })
    .where('id', '=', batchId)
    .where(states(['installed', 'add_refused', 'blocked']))
    .returning(['owner_id', 'owner_login', 'installation_id'])
    .executeTakeFirst()
}

/** The add run ended: refused (the settings page, and why) or not. */
export async function addingEnded(db: Kysely<Database>, batchId: number, refused: string | null): Promise<void> {
  await db
    .updateTable('app.batch')
    .set({ state: refused === null ? 'installed' : 'add_refused', state_reason: refused, updated_at: now })
    .where('id', '=', batchId)
    .where('state', '=', 'adding')
    .execute()
}
