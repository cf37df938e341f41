import { Readable } from 'node:stream'
import type { FastifyPluginAsync } from 'fastify'
import { csvRow } from '../csv-cells.js'
import { auditEvent, parseInstant, resolveFilter, searchAudit, searchResolved, type AuditFilter, type AuditRow } from '../migration/audit-search.js'
import { HttpError } from '../plugins/error-handler.js'

// The audit log for support staff and operators: any filter, newest first, a page at a time;
// each event whole; and the same filter as a CSV file, streamed page by page. Access, and the
// record of each view and export, are the staff-access plugin's.

const PAGE_SIZE = 50
/** Rows read per query while streaming an export. */
const EXPORT_PAGE = 1_000

/** The filter as the form sends it: times as typed, and the page's position. */
type AuditQuery = Omit<AuditFilter, 'from' | 'to'> & { from?: string; to?: string; before?: number }

const FILTER_KEYS = ['user', 'owner', 'repo', 'hook', 'installation', 'action', 'outcome', 'from', 'to'] as const

const text = (maxLength: number) => ({ type: 'string', maxLength })
const id = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER }
const querySchema = {
  type: 'object',
  properties: {
    user: text(100),
    owner: text(100),
    repo: text(300),
    hook: id,
    installation: id,
    action: { type: 'string', pattern: '^[a-z_]{0,60}$' },
    outcome: { type: 'string', pattern: '^[a-z_]{0,60}$' },
    from: text(40),
    to: text(40),
    before: id,
  },
}

/** What to do about a repository name too many repositories had (see searchAudit). */
function ambiguity(name: string): string {
  return `More than 50 repositories have been called “${name}”: give its owner as well (owner/${name}), or paste the repository's address or id.`
}

function instant(value: string, name: 'from' | 'to'): Date {
  const at = parseInstant(value, name === 'to')
  if (at === undefined) throw new HttpError(400, `“${name}” must be a date (2026-11-30) or a time (2026-11-30T14:05:00Z).`)
  return at
}

/** The query's filter; empty fields are no filter. */
function filterOf(query: AuditQuery): AuditFilter {
  const filter: AuditFilter = {}
  const given = (value: string | undefined): string | undefined => (value === undefined || value.trim() === '' ? undefined : value.trim())
  const [user, owner, repo, action, outcome, from, to] = [query.user, query.owner, query.repo, query.action, query.outcome, query.from, query.to].map(given)
  if (user !== undefined) filter.user = user
  if (owner !== undefined) filter.owner = owner
  if (repo !== undefined) filter.repo = repo
  if (query.hook !== undefined) filter.hook = query.hook
  if (query.installation !== undefined) filter.installation = query.installation
  if (action !== undefined) filter.action = action
  if (outcome !== undefined) filter.outcome = outcome
  if (from !== undefined) filter.from = instant(from, 'from')
  if (to !== undefined) filter.to = instant(to, 'to')
  return filter
}

/** The address of the same filter (without the page), for links and the export. */
function filterParams(query: AuditQuery): URLSearchParams {
  const params = new URLSearchParams()
  for (const key of FILTER_KEYS) {
    const value = query[key]
    if (value !== undefined && String(value).trim() !== '') params.set(key, String(value).trim())
  }
  return params
}

const CSV_HEADER = ['id', 'at', 'actor_kind', 'actor_login', 'actor_github_id', 'action', 'owner_login', 'owner_id', 'repo_name', 'repo_id', 'hook_id', 'installation_id', 'outcome', 'reason', 'request_id', 'detail']

function csvOf(e: AuditRow): string {
  return csvRow([e.id, e.at, e.actor_kind, e.actor_login, e.actor_github_id, e.action, e.owner_login, e.owner_id, e.repo_name, e.repo_id, e.hook_id, e.installation_id, e.outcome, e.reason, e.request_id, JSON.stringify(e.detail)])
}

const staffAuditRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: AuditQuery }>('/staff/audit', { config: { staff: 'support' }, schema: { querystring: querySchema } }, async (request, reply) => {
    const filter = filterOf(request.query)
    const page = await searchAudit(app.db, filter, { limit: PAGE_SIZE, ...(request.query.before === undefined ? {} : { before: request.query.before }) })
    const params = filterParams(request.query)
    const withParams = (path: string, extra: Record<string, string> = {}): string => {
      const all = new URLSearchParams(params)
      for (const [key, value] of Object.entries(extra)) all.set(key, value)
      const search = all.toString()
      return search === '' ? path : `${path}?${search}`
    }
    return reply.view('staff-audit.eta', {
      title: 'Audit log',
      query: request.query,
      filtered: params.size > 0,
      events: page.events,
      ambiguous: page.ambiguous === undefined ? undefined : ambiguity(page.ambiguous.name),
      older: page.next === undefined ? undefined : withParams('/staff/audit', { before: String(page.next) }),
      newest: request.query.before === undefined ? undefined : withParams('/staff/audit'),
      csv: withParams('/staff/audit.csv'),
    })
  })

  app.get<{ Params: { id: number } }>(
    '/staff/audit/:id',
    { config: { staff: 'support' }, schema: { params: { type: 'object', properties: { id }, required: ['id'] } } },
    async (request, reply) => {
      const event = await auditEvent(app.db, request.params.id)
      if (event === undefined) throw new HttpError(404, `There is no audit event ${request.params.id}.`)
      return reply.view('staff-audit-event.eta', { title: `Audit event ${event.id}`, event, detail: JSON.stringify(event.detail, null, 2) })
    },
  )

  app.get<{ Querystring: AuditQuery }>('/staff/audit.csv', { config: { staff: 'support', staffExport: true }, schema: { querystring: querySchema } }, async (request, reply) => {
    const filter = filterOf(request.query)
    const db = app.db
    // Names are looked up once for the whole export, not again for each page.
    const resolved = await resolveFilter(db, filter)
    if ('ambiguous' in resolved) throw new HttpError(400, ambiguity(resolved.ambiguous))
    async function* rows(): AsyncGenerator<string> {
      yield csvRow(CSV_HEADER)
      let before = request.query.before
      for (;;) {
        const page = await searchResolved(db, resolved, { limit: EXPORT_PAGE, ...(before === undefined ? {} : { before }) })
        if (page.events.length > 0) yield page.events.map(csvOf).join('')
        if (page.next === undefined) return
        before = page.next
      }
    }
    const stamp = new Date().toISOString().slice(0, 19).replaceAll(':', '').replace('T', '-')
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="audit-${stamp}.csv"`)
      .send(Readable.from(rows()))
  })
}

export default staffAuditRoutes
