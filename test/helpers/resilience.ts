import { sql } from 'kysely'
import type { Service } from './service.js'

// What the resilience suite (test/resilience/) holds still and how it reports: each part
// prints one table, whose last row, the invariant violations, must read 0.

/**
 * Tables that record requests rather than migration state: refusals are audited and counted
 * (the chain seals those events), sessions and rate-limit windows move with every request, and
 * a credential's lane notes each call made to GitHub, even one that only checked a claim.
 */
export const REQUEST_TABLES = new Set(['audit_event', 'audit_chain', 'refusal_tally', 'rate_limit', 'session', 'github_lane'])

/** Each app.* table's rows and a digest of their contents, but for `skip`; plus pg-boss's jobs by queue. */
export async function databaseDigest(service: Pick<Service, 'tdb'>, skip: ReadonlySet<string> = REQUEST_TABLES): Promise<Record<string, string>> {
  const db = service.tdb.db
  const { rows: tables } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = 'app' and table_type = 'BASE TABLE' order by table_name`.execute(db)
  const digest: Record<string, string> = {}
  for (const { name } of tables) {
    if (skip.has(name)) continue
    const { rows } = await sql<{ n: number; md5: string }>`
      select count(*)::int as n, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as md5
      from ${sql.table(`app.${name}`)} t`.execute(db)
    digest[`app.${name}`] = `${rows[0]!.n} rows, ${rows[0]!.md5}`
  }
  const { rows: jobs } = await sql<{ name: string; n: number }>`select name, count(*)::int as n from pgboss.job group by name order by name`.execute(db)
  digest['pgboss.job'] = jobs.map((j) => `${j.name}: ${j.n}`).join(', ')
  return digest
}

/**
 * GitHub's side as /_sim/state shows it, less what every call adds: the API log, and the
 * user tokens GitHub issues when the service checks who is coming back from it.
 */
export async function githubDigest(service: Pick<Service, 'sim'>): Promise<string> {
  const res = await fetch(`${service.sim.url}/_sim/state`)
  if (res.status !== 200) throw new Error(`GET /_sim/state answered ${res.status}`)
  const { apiLog: _log, tokens: _tokens, ...rest } = (await res.json()) as Record<string, unknown>
  return JSON.stringify(rest)
}

/** Names the entries of `after` that differ from `before`. */
export function changed(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => before[k] !== after[k])
}

/** A plain-text table: a header row, then rows, columns padded to their widest cell. */
export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String))
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n')
}
