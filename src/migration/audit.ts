import { sql, type Insertable, type Kysely } from 'kysely'
import type { AuditEventTable, Database } from '../db/database.js'

// The audit log's one way in, its sealing and its check. appendAudit takes the caller's
// transaction, so an event is written together with the change it records, or not at all; it
// takes no lock, so audited transactions run side by side. Sealing (sealAudit, run by the
// service's sealer every moment and by audit:verify) then chains committed events in order.

export type ActorKind = AuditEventTable['actor_kind']

export interface AuditActor {
  kind: ActorKind
  githubId?: number
  login?: string
}

export interface AuditTarget {
  ownerId?: number
  ownerLogin?: string
  repoId?: number
  repoName?: string
  hookId?: number
  installationId?: number
}

export interface AuditEvent {
  actor: AuditActor
  /** What happened, e.g. `sign_in`, `batch_planned`, `hook_removed`. */
  action: string
  target?: AuditTarget
  /** e.g. `ok`, `rejected`, `failed`, `removed`, `skipped_foreign`. */
  outcome: string
  /** Why, in words a support person can act on. */
  reason?: string
  requestId?: string
  detail?: Record<string, unknown>
}

export class AuditSecretError extends Error {
  override name = 'AuditSecretError'
}

// GitHub's token prefixes (classic, OAuth, user-to-server, server-to-server, refresh, PAT).
const SECRET = /\b(gh[pousr]_[A-Za-z0-9_]{8,}|github_pat_[A-Za-z0-9_]{20,})/

/** Refuses an event that carries something shaped like a GitHub token: the log is read by people. */
function assertNoSecret(event: AuditEvent): void {
  const text = JSON.stringify(event)
  if (SECRET.test(text)) throw new AuditSecretError(`audit event ${event.action} contains a token; tokens are never recorded`)
}

/** The columns of an event's row that the caller gives (the database sets the rest). */
export function auditRow(event: AuditEvent): Insertable<AuditEventTable> {
  const t = event.target ?? {}
  return {
    actor_kind: event.actor.kind,
    actor_github_id: event.actor.githubId ?? null,
    actor_login: event.actor.login ?? null,
    action: event.action,
    owner_id: t.ownerId ?? null,
    owner_login: t.ownerLogin ?? null,
    repo_id: t.repoId ?? null,
    repo_name: t.repoName ?? null,
    hook_id: t.hookId ?? null,
    installation_id: t.installationId ?? null,
    outcome: event.outcome,
    reason: event.reason ?? null,
    request_id: event.requestId ?? null,
    detail: JSON.stringify(event.detail ?? {}),
  }
}

export async function appendAudit(db: Kysely<Database>, event: AuditEvent): Promise<{ id: number }> {
  assertNoSecret(event)
  return db.insertInto('app.audit_event').values(auditRow(event)).returning('id').executeTakeFirstOrThrow()
}

export interface SealResult {
  /** Events given their chain position and hash by this call. */
  sealed: number
  /** Events still awaiting theirs: written by transactions still open, or by one that began before one still open. */
  pending: number
  /** Another sealer had the turn, so this call sealed nothing. */
  busy: boolean
}

/** How many events one call seals at most: one transaction's worth, a fraction of a second. */
const SEAL_BATCH = 1000

/**
 * Gives committed events their chain position and hash (app.audit_seal, in the database).
 * Sealers take turns: across instances exactly one seals at a time, and a call that finds
 * another sealing returns at once with `busy`.
 */
export async function sealAudit(db: Kysely<Database>, maxEvents = SEAL_BATCH): Promise<SealResult> {
  const { rows } = await sql<{ sealed: number | null }>`select app.audit_seal(${maxEvents}::integer) as sealed`.execute(db)
  const sealed = rows[0]!.sealed
  const { rows: counted } = await sql<{ pending: number }>`select app.audit_pending() as pending`.execute(db)
  const pending = counted[0]!.pending
  return { sealed: sealed ?? 0, pending, busy: sealed === null }
}

/**
 * Seals batch after batch until nothing is pending; while transactions still open hold events
 * back (or another sealer has the turn), tries again every `pauseMs` for at most `waitMs`.
 * Says what is left.
 */
export async function sealPending(db: Kysely<Database>, waitMs: number, options: { pauseMs?: number; batch?: number } = {}): Promise<SealResult> {
  const until = Date.now() + waitMs
  let sealed = 0
  for (;;) {
    const result = await sealAudit(db, options.batch)
    sealed += result.sealed
    if (result.pending === 0 || (result.sealed === 0 && Date.now() >= until)) return { ...result, sealed }
    if (result.sealed === 0) await new Promise((resolve) => setTimeout(resolve, options.pauseMs ?? 10))
  }
}

export type ChainCheck =
  | { intact: true; events: number; pending: number }
  | { intact: false; events: number; pending: number; brokenAt: number; reason: string }

/**
 * Walks the sealed events in chain order and names the first whose hash does not match its
 * content and predecessor, or whose predecessor is missing; counts the events awaiting sealing.
 */
export async function verifyAuditChain(db: Kysely<Database>): Promise<ChainCheck> {
  const { rows } = await sql<{ events: number; pending: number; seq: number | null; reason: string | null }>`
    with checked as (
      select c.seq, c.event_id, e.id as found_id,
        lag(c.seq) over w as prev_seq,
        lag(c.hash) over w as prev_hash,
        c.prev_hash as claimed_prev_hash,
        c.hash,
        sha256(c.prev_hash || convert_to(app.audit_canonical(e), 'UTF8')) as computed
      from app.audit_chain c left join app.audit_event e on e.id = c.event_id
      window w as (order by c.seq)
    ), broken as (
      select seq,
        case
          when seq <> coalesce(prev_seq, 0) + 1 then 'the event before it (#' || (coalesce(prev_seq, 0) + 1) || ') is missing'
          when found_id is null then 'its event (id ' || event_id || ') is missing'
          when claimed_prev_hash <> coalesce(prev_hash, decode(repeat('00', 32), 'hex')) then 'its link to the event before it does not match'
          when computed <> hash then 'its content does not match its hash (changed after it was written)'
        end as reason
      from checked
    )
    select (select count(*) from app.audit_chain) as events, app.audit_pending() as pending, b.seq, b.reason
    from (select 1) one left join lateral (
      select seq, reason from broken where reason is not null order by seq limit 1
    ) b on true`.execute(db)
  const row = rows[0]!
  if (row.seq === null) return { intact: true, events: row.events, pending: row.pending }
  return { intact: false, events: row.events, pending: row.pending, brokenAt: row.seq, reason: row.reason! }
}
