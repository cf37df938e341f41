import { LEGACY_CSV_COLUMNS, type LegacyCsvColumn } from './csv-records.js'

// The legacy side of a simulator world (shared/contracts/world.schema.json) as the vendor's
// CSV export, so the demo and the tests seed the legacy tables through `legacy:import` itself.

export interface WorldLegacyUser {
  id: number
  login: string
  legacy_token?: string | null
  legacy_scopes?: string[]
}

export interface WorldLegacyRegistration {
  github_user_id: number
  kind: 'repo' | 'org'
  owner_id: number
  owner_login: string
  owner_type: 'User' | 'Organization'
  repo_id?: number | null
  repo_name?: string | null
  hook_id: number
  hook_url: string
  created_at?: string
}

export interface WorldLegacyPart {
  users: WorldLegacyUser[]
  legacy_registrations?: WorldLegacyRegistration[]
}

function field(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return ''
  const text = String(value)
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

export function legacyCsvFromWorld(world: WorldLegacyPart): string {
  const users = new Map(world.users.map((u) => [u.id, u]))
  const lines = [LEGACY_CSV_COLUMNS.join(',')]
  for (const reg of world.legacy_registrations ?? []) {
    const user = users.get(reg.github_user_id)
    const values: Record<LegacyCsvColumn, string | number | null | undefined> = {
      github_user_id: reg.github_user_id,
      // A registration may name a user the world does not list: the vendor's record outlived them.
      login: user?.login ?? `user-${reg.github_user_id}`,
      oauth_token: user?.legacy_token,
      scopes: user?.legacy_scopes?.join(','),
      kind: reg.kind,
      owner_id: reg.owner_id,
      owner_login: reg.owner_login,
      owner_type: reg.owner_type,
      repo_id: reg.repo_id,
      repo_name: reg.repo_name,
      hook_id: reg.hook_id,
      hook_url: reg.hook_url,
      created_at: reg.created_at,
    }
    lines.push(LEGACY_CSV_COLUMNS.map((c) => field(values[c])).join(','))
  }
  return `${lines.join('\n')}\n`
}
