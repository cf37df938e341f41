import { sql, type Kysely } from 'kysely'
import type { AuditEventTable, Database } from '../db/database.js'

// The audit log's one way in and its check. appendAudit takes the caller's transaction, so an
// event is written together with the change it records, or not at all.

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

export async function appendAudit(db: Kysely<Database>, event: AuditEvent): Promise<{ id: number }> {
  assertNoSecret(event)
  const t = event.target ?? {}
  return db
    .insertInto('app.audit_event')
    .values({
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
    })
    .returning('id')
    .executeTakeFirstOrThrow()
}

export type ChainCheck = { intact: true; events: number } | { intact: false; events: number; brokenAt: number; reason: string }

/**
 * Walks the chain in order and names the first event whose hash does not match its content
 * and predecessor, or whose predecessor is missing.
 */
export async function verifyAuditChain(db: Kysely<Database>): Promise<ChainCheck> {
  const { rows } = await sql<{ events: number; id: number | null; reason: string | null }>`
    with checked as (
      select e.id,
        lag(e.id) over w as prev_id,
        lag(e.hash) over w as prev_hash,
        e.prev_hash as claimed_prev_hash,
        e.hash,
        sha256(e.prev_hash || convert_to(app.audit_canonical(e), 'UTF8')) as computed
      from app.audit_event e
      window w as (order by e.id)
    ), broken as (
      select id,
        case
          when id <> coalesce(prev_id, 0) + 1 then 'the event before it (#' || (coalesce(prev_id, 0) + 1) || ') is missing'
          when claimed_prev_hash <> coalesce(prev_hash, decode(repeat('00', 32), 'hex')) then 'its link to the event before it does not match'
          when computed <> hash then 'its content does not match its hash (changed after it was written)'
        end as reason
      from checked
    )
    select (select count(*) from app.audit_event) as events, b.id, b.reason
    from (select 1) one left join lateral (
      select id, reason from broken where reason is not null order by id limit 1
    ) b on true`.execute(db)
  const row = rows[0]!
  if (row.id === null) return { intact: true, events: row.events }
  return { intact: false, events: row.events, brokenAt: row.id, reason: row.reason! }
}
