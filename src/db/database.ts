import type { ColumnType, Generated } from 'kysely'

// One interface for every table the service reads or writes. Ids are GitHub's numeric ids;
// int8 is parsed to number (see connect.ts), as GitHub's ids stay far below 2^53.

export interface LegacyOauthUsersTable {
  github_user_id: number
  login: string
  oauth_token: string | null
  scopes: string | null
}

export interface LegacyWebhooksTable {
  id: Generated<number>
  github_user_id: number
  kind: 'repo' | 'org'
  owner_id: number
  owner_login: string
  owner_type: 'User' | 'Organization'
  repo_id: number | null
  repo_name: string | null
  hook_id: number
  hook_url: string
  created_at: ColumnType<Date | null, Date | string | null, Date | string | null>
}

export interface SessionTable {
  sid: string
  sess: unknown
  expire: Date
}

export interface LegacyImportTable {
  id: Generated<number>
  imported_at: Generated<Date>
  file_name: string
  file_sha256: string
  rows: number
  hooks_inserted: number
  hooks_updated: number
  hooks_unchanged: number
  users_inserted: number
  users_updated: number
}

export interface AuditEventTable {
  /** Set by the database: the order events were written in (with gaps where a transaction rolled back). */
  id: ColumnType<number, never, never>
  at: ColumnType<Date, never, never>
  actor_kind: 'user' | 'staff' | 'system' | 'github'
  actor_github_id: number | null
  actor_login: string | null
  action: string
  owner_id: number | null
  owner_login: string | null
  repo_id: number | null
  repo_name: string | null
  hook_id: number | null
  installation_id: number | null
  outcome: string
  reason: string | null
  request_id: string | null
  detail: ColumnType<Record<string, unknown>, string | undefined, never>
  /** The transaction that wrote the event (xid8, as text; null for events older than sealing): the sealer's order. */
  xact_id: ColumnType<string | null, never, never>
}

/** The hash chain over the audit events: a row per sealed event, given by the sealer shortly after the event's commit. */
export interface AuditChainTable {
  seq: ColumnType<number, never, never>
  event_id: ColumnType<number, never, never>
  prev_hash: ColumnType<Buffer, never, never>
  hash: ColumnType<Buffer, never, never>
}

export interface InventoryTable {
  user_id: number
  user_login: string
  planned_at: ColumnType<Date, Date | string, Date | string>
  /** The user's own registrations whose repository GitHub no longer shows them. */
  gone: ColumnType<GoneRepoRecord[], string, string>
  /** What the user's legacy token could not show, and why. */
  notes: ColumnType<PlanNoteRecord[], string | undefined, string>
  /** When the user's grant of the old app was revoked (migration 0015). */
  grant_revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>
}

/** A fault of a user's legacy token, as planning recorded it (src/migration/plan-notes.ts). */
export interface PlanNoteRecord {
  /** The owner it concerns; null for the user's whole authorization (their organization list). */
  ownerId: number | null
  ownerLogin: string | null
  fault: 'revoked' | 'sso' | 'scope' | 'forbidden' | 'not_found' | 'unavailable'
  message: string
  /** Where the user authorizes the token for an organization's single sign-on, as GitHub gave it. */
  url?: string
  /** The scopes GitHub would have taken. */
  scopes?: string[]
}

export interface GoneRepoRecord {
  repoId: number
  repoName: string | null
  ownerLogin: string
  hookId: number
}

/** Where a batch stands; the transitions are in src/migration/batch-state.ts (migration 0014). */
export type BatchState = 'planned' | 'link_issued' | 'request_pending' | 'installed' | 'adding' | 'add_refused' | 'blocked'

export type Coverage = 'unknown' | 'covered' | 'not_covered' | 'gone' | 'moved'

export interface BatchTable {
  id: Generated<number>
  user_id: number
  owner_id: number
  owner_login: string
  owner_type: 'User' | 'Organization'
  role: 'owner' | 'admin' | 'member' | 'outsider' | 'unknown'
  action: 'install' | 'request' | 'none'
  hidden_repos: number
  state: Generated<BatchState>
  /** What a person reads of the state: why GitHub refused the API path, or why it could not say. */
  state_reason: ColumnType<string | null, string | null | undefined, string | null>
  /** Set exactly in the installed states (installed, adding, add_refused, blocked). */
  installation_id: number | null
  /** The pieces of add runs that took this batch so far; a piece writes only while it is the latest. */
  add_piece: Generated<number>
  /** Until when the latest piece holds the batch; null when none runs. */
  add_lease_until: ColumnType<Date | null, Date | null | undefined, Date | null>
  coverage_checked_at: Date | null
  /** The org owners who can approve this batch's request, as GitHub listed them. */
  approvers: Generated<string[]>
  updated_at: Generated<Date>
}

export interface BatchRepoTable {
  batch_id: number
  repo_id: number
  repo_name: string
  private: boolean
  moved: boolean
  enabled_by: string[]
  hook_ids: number[]
  coverage: Generated<Coverage>
  moved_to: string | null
  add_state: 'pending' | 'added' | 'failed' | null
  add_reason: string | null
  /** The legacy token could not see it when planned: the kind of fault. */
  unseen: ColumnType<UnseenKind | null, UnseenKind | null | undefined, UnseenKind | null>
}

export type UnseenKind = 'sso' | 'scope' | 'forbidden' | 'unavailable'

export interface BatchOrgHookTable {
  batch_id: number
  hook_id: number
  enabled_by: string[]
}

export interface InstallStateTable {
  nonce: string
  batch_id: number
  user_id: number
  owner_id: number
  repo_ids: number[]
  issued_at: Generated<Date>
  expires_at: Date
  used_at: Date | null
}

export interface InstallationTable {
  id: number
  account_id: number
  account_login: string
  repository_selection: 'all' | 'selected'
  suspended_at: Date | null
  deleted_at: Date | null
  updated_at: Generated<Date>
}

export interface WebhookDeliveryTable {
  delivery_id: string
  event: string
  action: string | null
  installation_id: number | null
  received_at: Generated<Date>
  applied_at: Date | null
  /** The body's SHA-256, hex (migration 0019; null before it): each body is taken once. */
  body_sha256: string | null
}

/** Requests of one client to one route in its current window (migration 0010). */
export interface RateLimitTable {
  key: string
  hits: number
  resets_at: Date
}

/** Refusals of one kind from one client in one window, not yet written as one event. */
export interface RefusalTallyTable {
  client: string
  /** 0: nobody signed in. */
  actor_github_id: number
  actor_login: string | null
  /** 0: no owner could be read from the request. */
  owner_id: number
  owner_login: string | null
  action: string
  kind: string
  window_start: Date
  window_end: Date
  refusals: number
  first_event_id: number | null
}

export interface BackgroundWorkTable {
  kind: 'plan' | 'coverage'
  subject_id: number
  state: 'queued' | 'running' | 'done' | 'failed'
  again: Generated<boolean>
  run: Generated<number>
  phase: string | null
  done: number | null
  total: number | null
  outcome: string | null
  message: string | null
  requested_at: Generated<Date>
  started_at: Date | null
  finished_at: Date | null
  updated_at: Generated<Date>
}

/** Where removing one legacy hook stands (migration 0015); the moves are in src/migration/cleanup-task.ts. */
export type CleanupState = 'pending' | 'attempting' | CleanupOutcome
export type CleanupOutcome = 'removed' | 'already_absent' | 'skipped_foreign' | 'not_covered' | 'needs_manual'
export type CleanupCredential = 'legacy' | 'installation'

export interface CleanupTaskTable {
  hook_id: number
  kind: 'repo' | 'org'
  owner_id: number
  owner_login: string
  repo_id: number | null
  repo_name: string | null
  /** The vendor user whose legacy token made the hook. */
  enabled_by: number
  /** The user whose agreement created the task; null for an operator's sweep. */
  requested_by: number | null
  state: Generated<CleanupState>
  reason: string | null
  credential: CleanupCredential | null
  attempts: Generated<number>
  created_at: Generated<Date>
  updated_at: Generated<Date>
}

export interface CleanupConsentTable {
  user_id: number
  user_login: string
  /** Remove the old hooks as soon as the App covers them, not only those covered when asked. */
  auto: boolean
  agreed_at: Generated<Date>
}

/** A staff login pinned to the GitHub account that first used it (STAFF names logins, which can change hands). */
export interface StaffMemberTable {
  login: string
  github_id: number
  pinned_at: Generated<Date>
}

/** A legacy hook's record as it was when first frozen (migration 0018); never changed. */
export interface BeforeSnapshotTable extends Pick<LegacyWebhooksTable, 'hook_id' | 'kind' | 'owner_id' | 'owner_login' | 'owner_type' | 'repo_id' | 'repo_name' | 'hook_url'> {
  /** legacy.webhooks.github_user_id, and that user's login and the hook's created_at as the vendor had them. */
  enabled_by: number
  enabled_by_login: string | null
  enabled_at: Date | null
  taken_at: Generated<Date>
}

/** What the vendor's legacy receiver asks about a hook (a view, migration 0015). */
export interface LegacyHookStateView {
  hook_id: number
  repo_id: number | null
  kind: 'repo' | 'org'
  state: 'active' | 'covered' | 'removing' | CleanupOutcome
  since: Date
  deliver: boolean
}

export interface Database {
  'legacy.oauth_users': LegacyOauthUsersTable
  'legacy.webhooks': LegacyWebhooksTable
  'app.session': SessionTable
  'app.legacy_import': LegacyImportTable
  'app.audit_event': AuditEventTable
  'app.audit_chain': AuditChainTable
  'app.inventory': InventoryTable
  'app.batch': BatchTable
  'app.batch_repo': BatchRepoTable
  'app.batch_org_hook': BatchOrgHookTable
  'app.install_state': InstallStateTable
  'app.installation': InstallationTable
  'app.webhook_delivery': WebhookDeliveryTable
  'app.rate_limit': RateLimitTable
  'app.refusal_tally': RefusalTallyTable
  'app.background_work': BackgroundWorkTable
  'app.cleanup_task': CleanupTaskTable
  'app.cleanup_consent': CleanupConsentTable
  'app.staff_member': StaffMemberTable
  'app.before_snapshot': BeforeSnapshotTable
  'app.legacy_hook_state': LegacyHookStateView
}
