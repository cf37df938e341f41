import { sql, type Kysely } from 'kysely'
import type { Database } from '../../src/db/database.js'

// An audit log of many months, written straight into app.audit_event by insert … select, a
// million rows a statement: the service's own writes (one event a transaction, through the
// trigger that stamps id, time and transaction) would take hours for ten million. The stamp
// trigger is off while it loads, so that events can carry times spread over the months, and on
// again after; the triggers that refuse UPDATE and DELETE stay on throughout. The chain
// (app.audit_chain) is not filled: nothing the search reads is in it.
//
// The spread is what a vendor's log looks like: users, owners and repositories of skewed
// activity (a few busy, most quiet), an action mix from very common to very rare, outcomes
// mostly ok, repositories with the names many owners share ("web", "api", "docs"), some
// renamed (so that events recorded a former name, which may since name another repository of
// the owner), and some owners renamed, a few to a login another account had before.

export interface SeedShape {
  events: number
  users: number
  owners: number
  repos: number
  /** When the first event was written, and the time the log spans. */
  start: Date
  days: number
}

/** Raised when the shape of the seed changes, so that a kept database is seeded again. */
export const SEED_VERSION = 1

export function seedShape(events: number): SeedShape {
  return {
    events,
    users: Math.max(100, Math.round(events / 50)),
    owners: Math.max(50, Math.round(events / 100)),
    repos: Math.max(500, Math.round(events / 10)),
    start: new Date('2026-03-06T00:00:00Z'),
    days: 270,
  }
}

interface ActionShape {
  name: string
  /** Share of all events, relative to the others. */
  weight: number
  actor: 'user' | 'staff' | 'system' | 'github'
  target: 'repo' | 'owner' | 'none'
  hook: boolean
  installation: boolean
  /** Outcomes with their relative weights. */
  outcomes: [string, number][]
  detail: Record<string, unknown>
}

const ACTIONS: ActionShape[] = [
  { name: 'webhook_received', weight: 22, actor: 'github', target: 'repo', hook: false, installation: true, outcomes: [['ok', 90], ['ignored', 10]], detail: { event: 'push', delivery: 'b7f1c2a0-5e1d-11ef-8a4b-0242ac120002' } },
  { name: 'hook_cleanup', weight: 20, actor: 'system', target: 'repo', hook: true, installation: false, outcomes: [['removed', 85], ['skipped_foreign', 8], ['needs_manual', 5], ['failed', 2]], detail: { status: 204, attempt: 1 } },
  { name: 'coverage_checked', weight: 10, actor: 'system', target: 'owner', hook: false, installation: true, outcomes: [['ok', 90], ['not_covered', 10]], detail: { repos: 12, covered: 12 } },
  { name: 'staff_view', weight: 8, actor: 'staff', target: 'none', hook: false, installation: false, outcomes: [['ok', 1]], detail: { path: '/staff/audit?owner=acme', role: 'support' } },
  { name: 'sign_in', weight: 8, actor: 'user', target: 'none', hook: false, installation: false, outcomes: [['ok', 97], ['rejected', 3]], detail: { via: 'github' } },
  { name: 'batch_planned', weight: 6, actor: 'user', target: 'owner', hook: false, installation: false, outcomes: [['ok', 1]], detail: { role: 'admin', action: 'install', repos: 3, hiddenRepos: 0, orgHooks: 1 } },
  { name: 'install_link_issued', weight: 5, actor: 'user', target: 'owner', hook: false, installation: false, outcomes: [['ok', 1]], detail: { repos: 3 } },
  { name: 'hook_delete_attempted', weight: 5, actor: 'system', target: 'repo', hook: true, installation: false, outcomes: [['attempted', 1]], detail: { attempt: 1 } },
  { name: 'installation_verified', weight: 4, actor: 'user', target: 'owner', hook: false, installation: true, outcomes: [['ok', 95], ['rejected', 5]], detail: { selection: 'selected' } },
  { name: 'repo_added', weight: 4, actor: 'user', target: 'repo', hook: false, installation: true, outcomes: [['ok', 98], ['failed', 2]], detail: {} },
  { name: 'sign_out', weight: 3, actor: 'user', target: 'none', hook: false, installation: false, outcomes: [['ok', 1]], detail: {} },
  { name: 'webhook_unconfirmed', weight: 2, actor: 'system', target: 'repo', hook: true, installation: false, outcomes: [['unanswered', 1]], detail: { delivery: 'b7f1c2a0-5e1d-11ef-8a4b-0242ac120002' } },
  { name: 'installation_found', weight: 1.5, actor: 'github', target: 'owner', hook: false, installation: true, outcomes: [['ok', 1]], detail: {} },
  { name: 'request_pending', weight: 1, actor: 'user', target: 'owner', hook: false, installation: false, outcomes: [['queued', 1]], detail: { approvers: ['octo'] } },
  { name: 'staff_export', weight: 0.5, actor: 'staff', target: 'none', hook: false, installation: false, outcomes: [['ok', 1]], detail: { path: '/staff/audit.csv', role: 'operator' } },
  { name: 'installation_deleted', weight: 0.3, actor: 'github', target: 'owner', hook: false, installation: true, outcomes: [['ok', 1]], detail: {} },
  { name: 'legacy_grant_revoked', weight: 0.15, actor: 'user', target: 'none', hook: false, installation: false, outcomes: [['ok', 1]], detail: {} },
  { name: 'cleanup_sweep', weight: 0.04, actor: 'system', target: 'owner', hook: false, installation: false, outcomes: [['ok', 1]], detail: { dryRun: false } },
  { name: 'installation_rejected', weight: 0.01, actor: 'github', target: 'owner', hook: false, installation: true, outcomes: [['rejected', 1]], detail: {} },
  { name: 'staff_refused', weight: 0.002, actor: 'user', target: 'none', hook: false, installation: false, outcomes: [['refused', 1]], detail: { path: '/staff' } },
]

/** The rarest actions of the mix, for the benchmark's "rare action" filter. */
export const RARE_ACTIONS = ACTIONS.filter((a) => a.weight < 0.05).map((a) => a.name)

/** Cumulative shares (the last is 1), as width_bucket wants its thresholds. */
function cumulative(weights: number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0)
  let sum = 0
  return weights.map((w, i) => (i === weights.length - 1 ? 1 : (sum += w) / total))
}

const BASE_NAMES = ['web', 'api', 'docs', 'website', 'app', 'backend', 'frontend', 'infra', 'terraform', 'dotfiles', '.github', 'cli', 'sdk', 'mobile', 'ios', 'android', 'server', 'client', 'core', 'utils', 'blog', 'design', 'deploy', 'scripts', 'config', 'platform', 'dashboard', 'auth', 'payments', 'search', 'worker', 'gateway', 'proxy', 'monitoring', 'helm-charts', 'ansible', 'landing', 'admin', 'data', 'ml']

async function createDimensions(db: Kysely<Database>, shape: SeedShape): Promise<void> {
  const actions = ACTIONS.map((a, i) => ({
    i: i + 1,
    name: a.name,
    actor_kind: a.actor,
    target: a.target,
    hook: a.hook,
    installation: a.installation,
    outcomes: a.outcomes.map(([o]) => o),
    outcome_cum: cumulative(a.outcomes.map(([, w]) => w)),
    detail: a.detail,
  }))
  // A login as events record it: some in capitals, as GitHub keeps them.
  const login = (prefix: string, n: string): string => `case when ${n} % 4 = 0 then '${prefix[0]!.toUpperCase()}${prefix.slice(1)}-' || ${n} else '${prefix}' || ${n} end`
  // One statement a call: a statement with parameters cannot hold several.
  const statements = [
    sql`create schema bench_seed`,
    sql`create table bench_seed.action as
      select * from jsonb_to_recordset(${JSON.stringify(actions)}::jsonb)
        as x(i int, name text, actor_kind text, target text, hook bool, installation bool, outcomes text[], outcome_cum float8[], detail jsonb)`,
    sql`create table bench_seed.account (user_no int primary key, github_id bigint not null, login text not null)`,
    sql`insert into bench_seed.account select n, 1000000 + n * 17, ${sql.raw(login('dev', 'n'))} from generate_series(1, ${shape.users}::int) n`,
    // 1 in 100 owners renamed (events before the rename recorded the login it had), 1 in 500
    // to the login of the next account (which had it before: a login names two accounts).
    sql`create table bench_seed.owner (owner_no int primary key, owner_id bigint not null, login text not null, former_login text, renamed_at float8, installation_id bigint)`,
    sql`insert into bench_seed.owner
      select n, 5000000 + n * 13, ${sql.raw(login('org', 'n'))},
        case when n % 500 = 3 then ${sql.raw(login('org', '(n + 1)'))} when n % 100 = 7 then 'was-org' || n end,
        case when n % 500 = 3 or n % 100 = 7 then 0.1 + 0.8 * ((n::bigint * 7919) % 1000) / 1000.0 end,
        case when (n * 13) % 10 < 6 then 50000000 + n end
      from generate_series(1, ${shape.owners}::int) n`,
    sql`create table bench_seed.common_name as
      select (row_number() over (order by s.j, b.i) - 1)::int as i, b.w || s.x as name
      from unnest(${BASE_NAMES}::text[]) with ordinality b(w, i)
      cross join unnest(array['', '-service', '-legacy', '-v2', '-tools']) with ordinality s(x, j)`,
    // An owner's first six repositories take names many owners use; the rest are its own. Some
    // renamed: 1 in 33 of the others once had the name the owner's first repository has now
    // (two repositories under one owner/name), 1 in 50 had a name of its own.
    sql`create table bench_seed.repo (repo_no int primary key, repo_id bigint not null, owner_no int not null, name text not null, former_name text, renamed_at float8, hook_id bigint not null)`,
    sql`insert into bench_seed.repo
      with placed as (
        select n as repo_no, 1 + floor(${shape.owners}::int * random() ^ 1.6)::int as owner_no from generate_series(1, ${shape.repos}::int) n
      ), ranked as (
        select *, row_number() over (partition by owner_no order by repo_no) as k from placed
      ), named as (
        select r.*, case when r.k <= 6 then c.name else (${BASE_NAMES}::text[])[1 + r.repo_no % ${BASE_NAMES.length}::int] || '-' || r.repo_no end as name,
          f.name as first_name
        from ranked r
        left join bench_seed.common_name c on c.i = (r.owner_no * 7 + r.k * 37) % 200
        left join bench_seed.common_name f on f.i = (r.owner_no * 7 + 37) % 200
      )
      select repo_no, 100000000 + repo_no * 3, owner_no, name,
        case when k > 6 and repo_no % 33 = 5 then first_name when repo_no % 50 = 11 then 'old-' || name end,
        case when (k > 6 and repo_no % 33 = 5) or repo_no % 50 = 11 then 0.1 + 0.8 * ((repo_no::bigint * 7919) % 1000) / 1000.0 end,
        700000000 + repo_no
      from named`,
    sql`analyze bench_seed.action, bench_seed.account, bench_seed.owner, bench_seed.repo`,
  ]
  for (const statement of statements) await statement.execute(db)
}

/** Events lo..hi: the g-th at g/events of the way through the months, as ids and times go together. */
async function insertEvents(db: Kysely<Database>, shape: SeedShape, lo: number, hi: number, actionCum: number[]): Promise<void> {
  const stepMicros = (shape.days * 86_400_000_000) / shape.events
  await sql`
    insert into app.audit_event (id, at, actor_kind, actor_github_id, actor_login, action, owner_id, owner_login, repo_id, repo_name,
      hook_id, installation_id, outcome, reason, request_id, detail, xact_id)
    select s.g, ${shape.start}::timestamptz + (s.g - 1) * ${stepMicros}::float8 * interval '1 microsecond',
      a.actor_kind,
      case when a.actor_kind in ('user', 'staff') then u.github_id end,
      case when a.actor_kind in ('user', 'staff') then u.login end,
      a.name,
      o.owner_id,
      case when s.f < o.renamed_at then o.former_login else o.login end,
      r.repo_id,
      case when s.f < r.renamed_at then r.former_name else r.name end,
      case when a.hook then r.hook_id end,
      case when a.installation then o.installation_id end,
      a.outcomes[1 + width_bucket(s.u_outcome, a.outcome_cum)],
      case when a.outcomes[1 + width_bucket(s.u_outcome, a.outcome_cum)] in ('failed', 'needs_manual', 'rejected', 'unanswered')
        then 'the legacy token was revoked, so the hook is left for its owner to remove' end,
      case when a.actor_kind in ('user', 'staff') then 'req-' || to_hex(s.g * 2654435761 % 4294967296) end,
      a.detail,
      s.g::text::xid8
    from (
      select g, g::float8 / ${shape.events}::int as f, random() as u_action, random() as u_user, random() as u_repo, random() as u_owner, random() as u_outcome
      from generate_series(${lo}::bigint, ${hi}::bigint) g offset 0
    ) s
    join bench_seed.action a on a.i = 1 + width_bucket(s.u_action, ${actionCum}::float8[])
    join bench_seed.account u on u.user_no = case when a.actor_kind = 'staff' then 1 + floor(30 * s.u_user)::int else 1 + floor(${shape.users}::int * s.u_user ^ 2)::int end
    left join bench_seed.repo r on a.target = 'repo' and r.repo_no = 1 + floor(${shape.repos}::int * s.u_repo ^ 2)::int
    left join bench_seed.owner o on a.target <> 'none' and o.owner_no = coalesce(r.owner_no, 1 + floor(${shape.owners}::int * s.u_owner ^ 2)::int)
  `.execute(db)
}

const BATCH = 1_000_000

/**
 * Fills app.audit_event (empty, with the migrations before the console's indexes applied) with
 * `shape.events` events; `progress` hears of each million.
 */
export async function seedAuditEvents(db: Kysely<Database>, shape: SeedShape, progress: (written: number) => void = () => {}): Promise<void> {
  await db.connection().execute(async (conn) => {
    await sql`select setseed(0.42)`.execute(conn)
    await sql`set work_mem = '256MB'`.execute(conn)
    await createDimensions(conn, shape)
    const actionCum = cumulative(ACTIONS.map((a) => a.weight))
    await sql`alter table app.audit_event disable trigger audit_event_stamp`.execute(conn)
    try {
      for (let lo = 1; lo <= shape.events; lo += BATCH) {
        const hi = Math.min(shape.events, lo + BATCH - 1)
        await insertEvents(conn, shape, lo, hi, actionCum)
        progress(hi)
      }
    } finally {
      await sql`alter table app.audit_event enable trigger audit_event_stamp`.execute(conn)
    }
    await sql`select setval('app.audit_event_id_seq', ${shape.events}::bigint)`.execute(conn)
  })
}
