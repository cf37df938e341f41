import { pipeline } from 'node:stream/promises'
import { sql, type Kysely } from 'kysely'
import type pg from 'pg'
import { to as copyTo, type CopyToStreamQuery } from 'pg-copy-streams'
import { FORMULA_STARTS } from '../csv-cells.js'
import type { Database } from '../db/database.js'

// The before-state report: every legacy hook as it was first seen (frozen in
// app.before_snapshot, or as legacy.* has it now when not frozen yet), who enabled it and when,
// and what became of it. Written by Postgres itself (COPY … TO STDOUT), so a million rows pass
// through as bytes, never as objects. COPY takes no parameters: the only values in its text
// are whole numbers, checked here, and everything else is a fixed string.

export type ReportFormat = 'csv' | 'ndjson'
export const REPORT_FORMATS: readonly ReportFormat[] = ['csv', 'ndjson']

/** The media type of each format. */
export const REPORT_TYPES: Record<ReportFormat, string> = { csv: 'text/csv; charset=utf-8', ndjson: 'application/x-ndjson; charset=utf-8' }

/** A file name that says what and when: before-state[-owner]-2026-11-30-171132.csv. */
export function reportFileName(format: ReportFormat, owner?: string): string {
  const stamp = new Date().toISOString().slice(0, 19).replaceAll(':', '').replace('T', '-')
  const who = owner === undefined ? '' : `-${owner.replace(/[^A-Za-z0-9_.-]/g, '_')}`
  return `before-state${who}-${stamp}.${format}`
}

/** Whose hooks: everyone's, one owner's (by the ids it had), or what one batch's reader can see. */
export type ReportScope = { kind: 'all' } | { kind: 'owner'; ownerIds: number[] } | { kind: 'batch'; batchId: number }

/** The report's columns, in order (the CSV header and the NDJSON keys). */
export const REPORT_COLUMNS = [
  'owner',
  'owner_id',
  'owner_type',
  'kind',
  'repository',
  'repo_id',
  'hook_id',
  'hook_url',
  'enabled_by',
  'enabled_by_id',
  'enabled_at',
  'frozen_at',
  'status',
  'installation_id',
  'covered_at',
  'finished_at',
  'credential',
  'reason',
  'repository_now',
] as const

function wholeNumbers(values: readonly number[]): string {
  for (const value of values) if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not an id: ${value}`)
  return values.length === 0 ? 'null' : values.join(',')
}

/** Which hooks, as a condition on `h` (hook_id, kind, owner_id, repo_id). */
function scopeCondition(scope: ReportScope): string {
  switch (scope.kind) {
    case 'all':
      return 'true'
    case 'owner': {
      // An owner's hooks as recorded, and those of repositories it holds now (transferred to it).
      const ids = wholeNumbers(scope.ownerIds)
      return `(h.owner_id in (${ids}) or h.repo_id in (select r.repo_id from app.batch_repo r join app.batch b on b.id = r.batch_id where b.owner_id in (${ids})))`
    }
    case 'batch': {
      // What the batch lists is what its reader could see: its repositories (every hook on them,
      // whoever enabled it) and its owner's organization hooks.
      const id = wholeNumbers([scope.batchId])
      return `(h.repo_id in (select repo_id from app.batch_repo where batch_id = ${id}) or h.hook_id in (select hook_id from app.batch_org_hook where batch_id = ${id}))`
    }
  }
}

// A cell a spreadsheet would run as a formula gets a leading apostrophe, by csvCell's rule.
const FORMULA_CHARS = FORMULA_STARTS.map((c) => `chr(${c.charCodeAt(0)})`).join(', ')
const cell = (column: string, format: ReportFormat): string => (format === 'csv' ? `case when left(${column}, 1) in (${FORMULA_CHARS}) then '''' || ${column} else ${column} end` : column)
const instant = (column: string): string => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/**
 * The report's query: one row a hook, REPORT_COLUMNS in order, on one line (psql's \copy reads
 * one). `gone`: hooks of repositories planning found deleted (each user's inventory lists
 * them). `r`: a repository followed by its id wherever it went, the batch whose live
 * installation covers it first, else the latest word on it. `o`: an organization hook, covered
 * by an installation on all of the organization's repositories.
 */
export function reportQuery(scope: ReportScope, format: ReportFormat): string {
  const values = [
    cell('h.owner_login', format),
    'h.owner_id',
    'h.owner_type',
    'h.kind',
    cell(`h.owner_login || '/' || h.repo_name`, format),
    'h.repo_id',
    'h.hook_id',
    cell('h.hook_url', format),
    cell('h.enabled_by_login', format),
    'h.enabled_by',
    instant('h.enabled_at'),
    instant('h.taken_at'),
    `case when t.state in ('pending', 'attempting') then 'removing' when t.state is not null then t.state
          when coalesce(r.covered, o.covered) then 'covered' when g.hook_id is not null then 'repository_gone' else 'active' end`,
    'coalesce(r.installation_id, o.installation_id)',
    instant('coalesce(r.covered_at, o.covered_at)'),
    instant(`case when t.state not in ('pending', 'attempting') then t.updated_at end`),
    't.credential',
    cell(`coalesce(t.reason, r.add_reason, case when g.hook_id is not null then 'the repository no longer exists on GitHub' end)`, format),
    cell(`case when r.now_name is distinct from h.owner_login || '/' || h.repo_name then r.now_name end`, format),
  ]
  const select =
    format === 'csv'
      ? values.map((value, i) => `${value} as ${REPORT_COLUMNS[i]}`).join(',\n      ')
      : `json_build_object(${values.map((value, i) => `'${REPORT_COLUMNS[i]}', ${value}`).join(', ')})::text`
  return `
    with hooks as (
      select hook_id, kind, owner_id, owner_login, owner_type, repo_id, repo_name, hook_url, enabled_by, enabled_by_login, enabled_at, taken_at
      from app.before_snapshot
      union all
      select w.hook_id, w.kind, w.owner_id, w.owner_login, w.owner_type, w.repo_id, w.repo_name, w.hook_url, w.github_user_id, u.login, w.created_at, null
      from legacy.webhooks w
      left join legacy.oauth_users u on u.github_user_id = w.github_user_id
      where not exists (select 1 from app.before_snapshot s where s.hook_id = w.hook_id)
    ),
    gone as (
      select distinct (g->>'hookId')::bigint as hook_id from app.inventory i cross join jsonb_array_elements(i.gone) g
    )
    select ${select}
    from hooks h
    left join app.cleanup_task t on t.hook_id = h.hook_id
    left join gone g on g.hook_id = h.hook_id
    left join lateral (
      select b.installation_id, b.coverage_checked_at as covered_at, b.owner_login || '/' || br.repo_name as now_name, br.add_reason,
        (br.coverage = 'covered' and i.id is not null) as covered
      from app.batch_repo br
      join app.batch b on b.id = br.batch_id
      left join app.installation i on i.id = b.installation_id and i.deleted_at is null and i.suspended_at is null
      where h.kind = 'repo' and br.repo_id = h.repo_id
      order by (br.coverage = 'covered' and i.id is not null) desc, b.updated_at desc
      limit 1
    ) r on true
    left join lateral (
      select b.installation_id, b.coverage_checked_at as covered_at, true as covered
      from app.batch b
      join app.installation i on i.id = b.installation_id and i.deleted_at is null and i.suspended_at is null and i.repository_selection = 'all'
      where h.kind = 'org' and b.owner_id = h.owner_id
      order by b.coverage_checked_at desc nulls last
      limit 1
    ) o on true
    where ${scopeCondition(scope)}
    order by lower(h.owner_login), h.owner_id, h.repo_name nulls first, h.hook_id`.replace(/\s+/g, ' ').trim()
}

/** The COPY statement that writes the report in `format`. */
export function reportCopy(scope: ReportScope, format: ReportFormat): string {
  // NDJSON: one JSON text a line. CSV mode with a delimiter and a quote no JSON text contains
  // (JSON escapes every control character) writes each line exactly as Postgres built it;
  // text mode would double JSON's backslashes.
  const options = format === 'csv' ? `(format csv, header)` : `(format csv, delimiter e'\\x02', quote e'\\x01')`
  return `copy (${reportQuery(scope, format)}) to stdout with ${options}`
}

/** The ids an owner had in the legacy records or the batches, by login (any it had) or id. */
export async function ownerIdsOf(db: Kysely<Database>, owner: string): Promise<number[]> {
  const text = owner.trim()
  if (/^\d{1,18}$/.test(text)) {
    const id = Number(text)
    const known = await sql<{ one: number }>`
      select 1 as one where exists (select 1 from app.before_snapshot where owner_id = ${id})
        or exists (select 1 from legacy.webhooks where owner_id = ${id}) or exists (select 1 from app.batch where owner_id = ${id})`.execute(db)
    return known.rows.length > 0 ? [id] : []
  }
  const { rows } = await sql<{ owner_id: number }>`
    select owner_id from app.before_snapshot where lower(owner_login) = lower(${text})
    union select owner_id from legacy.webhooks where lower(owner_login) = lower(${text})
    union select owner_id from app.batch where lower(owner_login) = lower(${text})
    order by 1`.execute(db)
  return rows.map((r) => Number(r.owner_id))
}

/** Streams the report into `out` (ended when `end`); the number of hooks written. */
export async function writeReport(pool: pg.Pool, scope: ReportScope, format: ReportFormat, out: NodeJS.WritableStream, { end }: { end: boolean }): Promise<number> {
  const copy = await reportStream(pool, scope, format)
  await pipeline(copy, out, { end })
  return copy.rowCount
}

/** The report as a stream (for an HTTP reply); its connection goes back when the stream ends or is dropped. */
export async function reportStream(pool: pg.Pool, scope: ReportScope, format: ReportFormat): Promise<CopyToStreamQuery> {
  const client = await pool.connect()
  // Node's default of 16 kB stops reading the socket after every chunk Postgres sends until
  // the reader (a file, an HTTP reply) takes it; a megabyte keeps the backend sending meanwhile.
  const copy = client.query(copyTo(reportCopy(scope, format), { highWaterMark: 1 << 20 }))
  // Ended: the connection is clean and goes back. Closed before its end (the reader went away,
  // or the COPY failed): it is mid-protocol, so it is closed rather than handed to anyone else.
  copy.once('close', () => client.release(copy.readableEnded ? undefined : true))
  // Closing that connection fails the COPY it was running, after its reader has gone; the
  // reader learns of any earlier failure through its own listener.
  copy.on('error', () => {})
  return copy
}
