import { sql, type Expression, type ExpressionBuilder, type Kysely, type Selectable, type SqlBool } from 'kysely'
import type { AuditEventTable, Database } from '../db/database.js'

// Reading the audit log the way support staff ask about it: by the user, the owner, the
// repository (as it is called now, as it was called, or its id), a hook, an installation, what
// happened and how it ended, and when; newest first, a page at a time after the last event
// seen, so that a late page costs what the first does (migration 0017 has an index in this
// order for each filter).

export interface AuditFilter {
  /** A login, or a GitHub account id: the events that account did. */
  user?: string
  /** A login (any it was recorded under) or an account id. */
  owner?: string
  /** `owner/name`, a name alone, a github.com address, or a repository id. */
  repo?: string
  hook?: number
  installation?: number
  action?: string
  outcome?: string
  /** Events at or after this instant. */
  from?: Date
  /** Events before this instant. */
  to?: Date
}

/** An event as the console shows it (the sealer's transaction id is no one's business). */
export type AuditRow = Omit<Selectable<AuditEventTable>, 'xact_id'>

export interface AuditPage {
  events: AuditRow[]
  /** A repository's name alone that too many repositories had to search them all: its owner is needed. */
  ambiguous?: { name: string }
  /** The id to read the next (older) page after; none when this page is the last. */
  next?: number
}

const ID = /^\d{1,18}$/

/**
 * A date (its start, UTC) or an ISO instant, as people type one; `endOfDay` reads a date as
 * the end of that day (a "to" that includes it). Undefined when it is neither.
 */
export function parseInstant(text: string, endOfDay = false): Date | undefined {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(text)
  const at = new Date(day ? `${text}T00:00:00Z` : text)
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(at.getTime())) return undefined
  return day && endOfDay ? new Date(at.getTime() + 86_400_000) : at
}

/** A repository as people paste it: `https://github.com/acme/web/…`, `acme/web`, `web`, or `1234`. */
export function parseRepo(text: string): { id: number } | { owner?: string; name: string } {
  const trimmed = text.trim()
  return ID.test(trimmed) ? { id: Number(trimmed) } : parseRepoName(trimmed)
}

/**
 * The host that starts a pasted address: after http(s)://, any (an Enterprise Server's may be a
 * bare name, and the demo's simulated GitHub is on localhost:3001); without it, one with a dot
 * or a port (github.com), which no login has.
 */
export const ADDRESS_HOST = String.raw`(?:https?:\/\/[^/\s]+|[^/\s]+[.:][^/\s]+)`

const REPO_ADDRESS = new RegExp(String.raw`^${ADDRESS_HOST}\/([^/\s?#]+)\/([^/\s?#]+)`, 'i')

/** A repository's name as people paste it, with its owner when given. */
export function parseRepoName(text: string): { owner?: string; name: string } {
  const trimmed = text.trim()
  // An address: a host, then the owner and the name.
  const address = REPO_ADDRESS.exec(trimmed)
  const [owner, name] = address ? [address[1]!, address[2]!.replace(/\.git$/i, '')] : trimmed.includes('/') ? trimmed.split('/', 2) : [undefined, trimmed]
  return owner === undefined || owner === '' ? { name: name! } : { owner, name: name! }
}

/**
 * The ids of the repositories events recorded under a name (an owner's, when given): a skip
 * scan of the name index, one probe per repository, so a busy repository costs no more. With
 * `atMost`, the scan stops there (Postgres runs a recursive query only as far as it is read).
 */
export async function repoIdsNamed(db: Kysely<Database>, name: string, owner?: string, atMost?: number): Promise<number[]> {
  const { rows } = await sql<{ repo_id: string }>`
    with recursive found (owner, repo_id) as (
      (select lower(owner_login), repo_id from app.audit_event
        where lower(repo_name) = lower(${name}) and repo_id is not null ${owner === undefined ? sql`` : sql`and lower(owner_login) = lower(${owner})`}
        order by lower(repo_name), lower(owner_login), repo_id limit 1)
      union all
      select next.* from found, lateral (
        select lower(e.owner_login), e.repo_id from app.audit_event e
         where lower(e.repo_name) = lower(${name}) and e.repo_id is not null
           ${owner === undefined ? sql`` : sql`and lower(e.owner_login) = lower(${owner})`}
           and (lower(e.owner_login), e.repo_id) > (found.owner, found.repo_id)
         order by lower(e.repo_name), lower(e.owner_login), e.repo_id limit 1) next
    )
    select repo_id from found ${atMost === undefined ? sql`` : sql`limit ${atMost}`}`.execute(db)
  // A repository transferred between owners is found under each.
  return [...new Set(rows.map((r) => Number(r.repo_id)))]
}

/** The ids of the accounts events recorded as owner under a login, by the same skip scan. */
export async function ownerIdsNamed(db: Kysely<Database>, login: string): Promise<number[]> {
  const { rows } = await sql<{ owner_id: string }>`
    with recursive found (owner_id) as (
      (select owner_id from app.audit_event where lower(owner_login) = lower(${login}) and owner_id is not null
        order by lower(owner_login), owner_id limit 1)
      union all
      select next.owner_id from found, lateral (
        select e.owner_id from app.audit_event e
         where lower(e.owner_login) = lower(${login}) and e.owner_id is not null and e.owner_id > found.owner_id
         order by lower(e.owner_login), e.owner_id limit 1) next
    )
    select owner_id from found`.execute(db)
  return rows.map((r) => Number(r.owner_id))
}

type Where = (eb: ExpressionBuilder<Database, 'app.audit_event'>) => Expression<SqlBool>

/** Ids of one field that a name stands for, when it stands for several. */
interface Several {
  field: 'owner_id' | 'repo_id'
  ids: number[]
}

/**
 * Up to this many ids are read id by id, newest first, and merged. An `in` over ids in the
 * (id, at, id) index comes out ordered by id, so the planner sorts every event of them all,
 * or walks the time index skipping every other event: either way a cost that grows with the
 * log. Beyond this, reading a page of each costs more than that.
 */
const MERGED_IDS = 50

interface Conditions {
  where: Where[]
  several?: Several
}

/**
 * A filter with its names looked up, to read page after page without looking them up again:
 * conditions, `ambiguous` (see conditions), or `none` when a name matches nothing.
 */
export type ResolvedFilter = Conditions | { ambiguous: string } | { none: true }

/**
 * The filter as conditions; `none` when a name matches nothing, so nothing can match;
 * `ambiguous` for a repository's name alone that more than MERGED_IDS repositories had (`web`
 * may be thousands of owners'): finding them all would cost more than the page, and a page of
 * thousands of repositories' events mixed together answers no one's question.
 */
export async function resolveFilter(db: Kysely<Database>, filter: AuditFilter): Promise<ResolvedFilter> {
  const found: Conditions = { where: [] }
  const byIds = (field: Several['field'], ids: number[]): void => {
    if (ids.length === 1) found.where.push((eb) => eb(field, '=', ids[0]!))
    else if (ids.length <= MERGED_IDS && found.several === undefined) found.several = { field, ids }
    else found.where.push((eb) => eb(field, 'in', ids))
  }
  const where = found.where
  if (filter.user !== undefined) {
    const user = filter.user.trim()
    where.push(ID.test(user) ? (eb) => eb('actor_github_id', '=', Number(user)) : (eb) => eb(eb.fn('lower', ['actor_login']), '=', user.toLowerCase()))
  }
  if (filter.owner !== undefined) {
    const owner = filter.owner.trim()
    const ids = ID.test(owner) ? [Number(owner)] : await ownerIdsNamed(db, owner)
    if (ids.length === 0) return { none: true }
    byIds('owner_id', ids)
  }
  if (filter.repo !== undefined) {
    const repo = parseRepo(filter.repo)
    const ids = 'id' in repo ? [repo.id] : await repoIdsNamed(db, repo.name, repo.owner, repo.owner === undefined ? MERGED_IDS + 1 : undefined)
    if (ids.length === 0) return { none: true }
    if (!('id' in repo) && repo.owner === undefined && ids.length > MERGED_IDS) return { ambiguous: repo.name }
    byIds('repo_id', ids)
  }
  const { hook, installation, action, outcome, from, to } = filter
  if (hook !== undefined) where.push((eb) => eb('hook_id', '=', hook))
  if (installation !== undefined) where.push((eb) => eb('installation_id', '=', installation))
  if (action !== undefined) where.push((eb) => eb('action', '=', action))
  if (outcome !== undefined) where.push((eb) => eb('outcome', '=', outcome))
  if (from !== undefined) where.push((eb) => eb('at', '>=', from))
  if (to !== undefined) where.push((eb) => eb('at', '<', to))
  return found
}

const COLUMNS = ['id', 'at', 'actor_kind', 'actor_github_id', 'actor_login', 'action', 'owner_id', 'owner_login', 'repo_id', 'repo_name', 'hook_id', 'installation_id', 'outcome', 'reason', 'request_id', 'detail'] as const

/** After the last event seen, in the page's order (its time, then its id). */
function olderThan(before: number): Where {
  return (eb) => eb(eb.refTuple('at', 'id'), '<', eb.tuple(eb.selectFrom('app.audit_event as seen').select('seen.at').where('seen.id', '=', before), eb.val(before)))
}

/** The newest `count` events matching every condition. */
function newest(db: Kysely<Database>, where: Where[], count: number): Promise<AuditRow[]> {
  return db
    .selectFrom('app.audit_event')
    .select(COLUMNS)
    .where((eb) => eb.and(where.map((w) => w(eb))))
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(count)
    .execute() as Promise<AuditRow[]>
}

/** The same for each of several ids, merged: at most `count` events read per id, through its index. */
function newestOfEach(db: Kysely<Database>, several: Several, where: Where[], count: number): Promise<AuditRow[]> {
  return db
    .selectFrom(sql<{ k: number }>`unnest(${several.ids}::bigint[])`.as('k'))
    .innerJoinLateral(
      (eb) =>
        eb
          .selectFrom('app.audit_event')
          .select(COLUMNS)
          .where((each) => {
            const event = each as unknown as ExpressionBuilder<Database, 'app.audit_event'>
            return each.and([each(several.field, '=', each.ref('k.k')), ...where.map((w) => w(event))])
          })
          .orderBy('at', 'desc')
          .orderBy('id', 'desc')
          .limit(count)
          .as('e'),
      (join) => join.onTrue(),
    )
    .selectAll('e')
    .orderBy('e.at', 'desc')
    .orderBy('e.id', 'desc')
    .limit(count)
    .execute() as Promise<AuditRow[]>
}

/** One page of the events the filter matches, newest first, older than the event `before`. */
export async function searchAudit(db: Kysely<Database>, filter: AuditFilter, page: { before?: number; limit: number }): Promise<AuditPage> {
  return searchResolved(db, await resolveFilter(db, filter), page)
}

/** The same, for a filter already resolved (an export's pages). */
export async function searchResolved(db: Kysely<Database>, found: ResolvedFilter, page: { before?: number; limit: number }): Promise<AuditPage> {
  if ('none' in found) return { events: [] }
  if ('ambiguous' in found) return { events: [], ambiguous: { name: found.ambiguous } }
  const where = page.before === undefined ? found.where : [...found.where, olderThan(page.before)]
  const rows = found.several === undefined ? await newest(db, where, page.limit + 1) : await newestOfEach(db, found.several, where, page.limit + 1)
  const events = rows.slice(0, page.limit)
  return rows.length > page.limit ? { events, next: events.at(-1)!.id } : { events }
}

/** One event, with where it sits in the chain once sealed. */
export async function auditEvent(db: Kysely<Database>, id: number): Promise<(AuditRow & { seq: number | null; hash: string | null }) | undefined> {
  const row = await db
    .selectFrom('app.audit_event as e')
    .leftJoin('app.audit_chain as c', 'c.event_id', 'e.id')
    .selectAll('e')
    .select(['c.seq', sql<string | null>`encode(c.hash, 'hex')`.as('hash')])
    .where('e.id', '=', id)
    .executeTakeFirst()
  return row === undefined ? undefined : ({ ...row, seq: row.seq === null ? null : Number(row.seq) } as AuditRow & { seq: number | null; hash: string | null })
}
