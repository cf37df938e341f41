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
  /** Set by the database: the event's place in the chain. */
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
  prev_hash: ColumnType<Buffer, never, never>
  hash: ColumnType<Buffer, never, never>
}

export interface Database {
  'legacy.oauth_users': LegacyOauthUsersTable
  'legacy.webhooks': LegacyWebhooksTable
  'app.session': SessionTable
  'app.legacy_import': LegacyImportTable
  'app.audit_event': AuditEventTable
}
