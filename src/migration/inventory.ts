import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'

// The legacy inventory as recorded (shared/contracts/legacy.md), grouped per owner id: the
// "before" picture staff look at. Recorded names may be stale; GitHub is asked elsewhere.
// No query here reads an oauth_token value, only whether there is one.

export interface InventoryTotals {
  owners: number
  repos: number
  hooks: number
  /** Distinct users whose token created at least one recorded hook. */
  users: number
  /** Of those, users with no usable token on record: revoked (null) or no user row at all. */
  usersWithoutToken: number
}

export interface EnablingUser {
  githubUserId: number
  /** Null when legacy.oauth_users has no row for the id. */
  login: string | null
  tokenMissing: boolean
}

export interface OwnerSummary {
  ownerId: number
  /**
   * The login recorded most recently for the owner: the one with the latest created_at (rows
   * without one count as oldest), then the one on the highest row id.
   */
  login: string
  type: 'User' | 'Organization'
  /** Other logins recorded for the same owner id (renames), at most five. */
  otherLogins: string[]
  repos: number
  hooks: number
  hasOrgHook: boolean
  userCount: number
  /** The first users by login, at most `usersShown`. */
  users: EnablingUser[]
}

export interface OwnerPageQuery {
  /** Case-insensitive prefix of any login recorded for the owner. */
  q?: string | undefined
  /** 1-based. */
  page: number
  pageSize: number
  usersShown: number
}

export interface OwnerPage {
  owners: OwnerSummary[]
  /** Owners matching the query, across all pages. */
  matching: number
  page: number
  pageSize: number
  pages: number
}

export async function inventoryTotals(db: Kysely<Database>): Promise<InventoryTotals> {
  // Separate statements, so that the pool runs them side by side. The distinct counts are
  // written so that Postgres hashes (owners, users) or reads the partial repo_id index in
  // order (repos) rather than sorting a million rows.
  const [hooks, owners, repos, users] = await Promise.all([
    sql<{ n: number }>`select count(*) as n from legacy.webhooks`.execute(db),
    sql<{ n: number }>`select count(*) as n from (select distinct owner_id from legacy.webhooks) o`.execute(db),
    sql<{ n: number }>`
      select count(distinct repo_id) as n from legacy.webhooks
      where kind = 'repo' and repo_id is not null`.execute(db),
    sql<{ users: number; without_token: number }>`
      select count(*) as users, count(*) filter (where o.oauth_token is null) as without_token
      from (select distinct github_user_id from legacy.webhooks) c
      left join legacy.oauth_users o on o.github_user_id = c.github_user_id`.execute(db),
  ])
  return {
    owners: owners.rows[0]!.n,
    repos: repos.rows[0]!.n,
    hooks: hooks.rows[0]!.n,
    users: users.rows[0]!.users,
    usersWithoutToken: users.rows[0]!.without_token,
  }
}

/** `q` as a LIKE pattern matching what starts with it, wildcards in it taken literally. */
export function prefixPattern(q: string): string {
  return `${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

interface OwnerRow {
  matching: number
  owner_id: number | null
  login: string
  type: 'User' | 'Organization'
  other_logins: string[]
  repos: number
  hooks: number
  has_org_hook: boolean
  user_count: number
  users: EnablingUser[]
}

/**
 * One page of owners sorted by login. Sorting by the latest login needs every owner's latest
 * login, so that part reads the table once (or, with `q`, only the owners it matches, found by
 * one scan and then through the owner_id index); the per-owner figures are looked up for the
 * page's owners only, through the owner_id index.
 */
export async function listOwners(db: Kysely<Database>, query: OwnerPageQuery): Promise<OwnerPage> {
  const q = query.q?.trim() ?? ''
  const filter =
    q === ''
      ? sql``
      : sql`where w.owner_id in (select owner_id from legacy.webhooks where lower(owner_login) like ${prefixPattern(q)})`
  const offset = (query.page - 1) * query.pageSize

  const { rows } = await sql<OwnerRow>`
    with logins as (
      -- One row per login an owner was recorded under: usually one per owner, so the step
      -- below sorts a small set instead of every hook row.
      select w.owner_id, w.owner_login, w.owner_type, max(w.created_at) as created_at, max(w.id) as id
      from legacy.webhooks w
      ${filter}
      group by w.owner_id, w.owner_login, w.owner_type
    ),
    latest as (
      select distinct on (owner_id) owner_id, owner_login, owner_type
      from logins
      order by owner_id, created_at desc nulls last, id desc
    ),
    page as (
      select * from latest
      order by lower(owner_login), owner_login, owner_id
      limit ${query.pageSize} offset ${offset}
    ),
    detailed as (
      select p.owner_id, p.owner_login as login, p.owner_type as type,
             s.other_logins, s.repos, s.hooks, s.has_org_hook, u.user_count, u.users
      from page p
      cross join lateral (
        select count(*) as hooks,
               count(distinct w.repo_id) filter (where w.kind = 'repo') as repos,
               bool_or(w.kind = 'org') as has_org_hook,
               coalesce((array_agg(distinct w.owner_login) filter (where w.owner_login <> p.owner_login))[1:5], '{}') as other_logins
        from legacy.webhooks w
        where w.owner_id = p.owner_id
      ) s
      cross join lateral (
        select count(*) as user_count,
               coalesce(
                 jsonb_agg(jsonb_build_object('githubUserId', e.github_user_id, 'login', e.login, 'tokenMissing', e.token_missing) order by e.n)
                   filter (where e.n <= ${query.usersShown}),
                 '[]'
               ) as users
        from (
          select c.github_user_id, o.login, o.oauth_token is null as token_missing,
                 row_number() over (order by lower(o.login) nulls last, c.github_user_id) as n
          from (select distinct github_user_id from legacy.webhooks where owner_id = p.owner_id) c
          left join legacy.oauth_users o on o.github_user_id = c.github_user_id
        ) e
      ) u
    )
    -- The count comes along even when the page is past the end and has no owners.
    select m.matching, d.*
    from (select count(*) as matching from latest) m
    left join detailed d on true
    order by lower(d.login), d.login, d.owner_id`.execute(db)

  const matching = rows[0]!.matching
  const owners = rows
    .filter((r) => r.owner_id !== null)
    .map(
      (r): OwnerSummary => ({
        ownerId: r.owner_id!,
        login: r.login,
        type: r.type,
        otherLogins: r.other_logins,
        repos: r.repos,
        hooks: r.hooks,
        hasOrgHook: r.has_org_hook,
        userCount: r.user_count,
        users: r.users,
      }),
    )
  return {
    owners,
    matching,
    page: query.page,
    pageSize: query.pageSize,
    pages: Math.max(1, Math.ceil(matching / query.pageSize)),
  }
}
