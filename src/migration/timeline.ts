import { sql, type Kysely } from 'kysely'
import type { BatchState, Database } from '../db/database.js'
import { searchAudit, type AuditFilter, type AuditRow } from './audit-search.js'

// "What happened to my repo?", answered as a story: for a user, an owner or a repository, a
// few sentences on where things stand (from the service's own state), then its events in
// the order they happened, each in words. Support staff reach it from whatever a customer
// pastes (finder.ts).

export type Subject = { kind: 'user'; id: number; login: string } | { kind: 'owner'; id: number; login: string } | { kind: 'repo'; id: number; name: string }

export interface TimelineEntry {
  id: number
  at: Date
  text: string
  outcome: string
}

/** A user with a timeline of their own whom a repository's story concerns. */
export interface Person {
  id: number
  login: string
  /** Whose plan holds the repository. */
  planned: boolean
  /** Who enabled one of its old webhooks. */
  enabled: boolean
}

export interface Timeline {
  subject: Subject
  /** Where things stand now, a sentence each. */
  summary: string[]
  /** For a repository: its users' timelines, the next step from a pasted address to the customer's story. */
  people: Person[]
  /** The latest events, oldest first. */
  entries: TimelineEntry[]
  /** Older events exist beyond these (the audit log has them all). */
  more: boolean
  /** The audit log's filter for the same subject. */
  filter: AuditFilter
}

/** Events a timeline shows at most. */
const SHOWN = 200

const plural = (n: number, one: string, many = `${one}s`): string => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`

function where(e: AuditRow): string {
  if (e.repo_name !== null) return e.owner_login === null ? e.repo_name : `${e.owner_login}/${e.repo_name}`
  return e.owner_login ?? (e.owner_id === null ? 'an account' : `account ${e.owner_id}`)
}

/** One event in words. */
export function sentence(e: AuditRow): string {
  const who = e.actor_login ?? (e.actor_kind === 'system' ? 'the service' : e.actor_kind === 'github' ? 'GitHub' : e.actor_kind)
  const d = e.detail as Record<string, unknown>
  const hook = `old webhook ${e.hook_id ?? ''} on ${where(e)}`.replace('  ', ' ')
  const why = e.reason === null ? '' : `: ${e.reason}`
  switch (e.action) {
    case 'sign_in':
      return `${who} signed in`
    case 'sign_out':
      return `${who} signed out`
    case 'batch_planned':
      return `${who}'s plan: ${where(e)}, ${plural(Number(d.repos ?? 0), 'repository', 'repositories')}${Number(d.orgHooks ?? 0) > 0 ? ' and its organization webhook' : ''}`
    case 'install_link_issued':
      return `${who} was sent to GitHub to install the App on ${where(e)}`
    case 'installation_verified':
      return `${who} installed the App on ${where(e)} (installation ${e.installation_id}, ${d.repositorySelection === 'all' ? 'all repositories' : 'selected repositories'})`
    case 'installation_rejected':
      return `an installation on ${where(e)} was refused${why}`
    case 'request_pending':
      return `${who} asked the owners of ${where(e)} to install the App`
    case 'coverage_checked': {
      if (e.outcome !== 'covered' && e.outcome !== 'not_covered') return `the App's coverage of ${where(e)} could not be checked${why}`
      const covered = Number(d.covered ?? 0)
      const total = covered + Number(d.not_covered ?? 0) + Number(d.unknown ?? 0)
      return `the App covers ${covered} of ${plural(total, 'repository', 'repositories')} on ${where(e)}${e.outcome === 'covered' ? '' : ' (not all)'}`
    }
    case 'cleanup_agreed':
      return `${who} agreed to remove the old webhooks`
    case 'hook_removal_planned':
      return `${hook}: to be removed`
    case 'hook_delete_attempted':
      return `${hook}: deleting it with the ${d.credential === 'installation' ? "App's permission" : 'legacy token'} (attempt ${String(d.attempt ?? 1)})`
    case 'hook_cleanup':
      switch (e.outcome) {
        case 'removed':
          return `${hook}: removed`
        case 'already_absent':
          return `${hook}: already gone`
        case 'needs_manual':
          return `${hook}: needs attention${why}`
        default:
          return `${hook}: kept${why}`
      }
    case 'legacy_grant_revoked':
      return `${who} disconnected the old app`
    case 'staff_view':
    case 'staff_export':
      return `${who} (staff) read ${String(d.url ?? 'a staff page')}`
    default:
      return `${e.action.replaceAll('_', ' ')} on ${where(e)}: ${e.outcome}${why}`
  }
}

/** The outcome of each old hook the subject concerns, as sentences: removed, remaining, needing a person. */
function cleanupSummary(tasks: { state: string; reason: string | null; hook_id: number; owner_login: string; repo_name: string | null }[], noun: string): string[] {
  if (tasks.length === 0) return []
  const removed = tasks.filter((t) => t.state === 'removed' || t.state === 'already_absent').length
  const open = tasks.filter((t) => t.state === 'pending' || t.state === 'attempting').length
  const kept = tasks.filter((t) => t.state === 'skipped_foreign' || t.state === 'not_covered').length
  const manual = tasks.filter((t) => t.state === 'needs_manual')
  const lines = [`${plural(removed, 'old webhook')} ${noun} removed${open > 0 ? `, ${open} still to go` : ''}${kept > 0 ? `, ${kept} kept` : ''}`]
  if (manual.length > 0) {
    // Every kept or manual task carries its reason (a constraint of app.cleanup_task).
    const named = manual.map((t) => `${t.repo_name === null ? `${t.owner_login} (organization hook ${t.hook_id})` : `${t.owner_login}/${t.repo_name}`} (${String(t.reason)})`)
    lines.push(`${manual.length} ${manual.length === 1 ? 'needs' : 'need'} attention: ${named.join('; ')}`)
  }
  return lines
}

async function batchSummary(db: Kysely<Database>, batchWhere: { userId?: number; ownerId?: number }, subjectIsUser: boolean): Promise<string[]> {
  let query = db
    .selectFrom('app.batch as b')
    .leftJoin('app.batch_repo as r', 'r.batch_id', 'b.id')
    .select(['b.id', 'b.owner_login', 'b.user_id', 'b.state', 'b.installation_id', 'b.approvers'])
    .select((eb) => [eb.fn.count<number>('r.repo_id').as('repos'), eb.fn.count<number>('r.repo_id').filterWhere('r.coverage', '=', 'covered').as('covered')])
    .groupBy('b.id')
    .orderBy('b.owner_login')
  if (batchWhere.userId !== undefined) query = query.where('b.user_id', '=', batchWhere.userId)
  if (batchWhere.ownerId !== undefined) query = query.where('b.owner_id', '=', batchWhere.ownerId)
  const batches = await query.execute()
  // A batch's user is always in app.inventory (a foreign key).
  const logins = new Map((await db.selectFrom('app.inventory').select(['user_id', 'user_login']).where('user_id', 'in', [0, ...batches.map((b) => b.user_id)]).execute()).map((u) => [u.user_id, u.user_login]))
  return batches.map((b) => {
    const by = subjectIsUser ? '' : `${logins.get(b.user_id)}: `
    const repos = plural(Number(b.repos), 'repository', 'repositories')
    if (INSTALLED.has(b.state)) return `${by}the App is installed on ${b.owner_login} (installation ${b.installation_id}), covering ${Number(b.covered)} of ${repos}`
    if (b.state === 'request_pending') return `${by}asked the owners of ${b.owner_login} to install the App; waiting for ${b.approvers.length > 0 ? b.approvers.join(' or ') : 'an owner'} to approve`
    return `${by}has not installed the App on ${b.owner_login} yet (${repos} planned)`
  })
}

const INSTALLED = new Set<BatchState>(['installed', 'adding', 'add_refused', 'blocked'])

const taskColumns = ['state', 'reason', 'hook_id', 'owner_login', 'repo_name'] as const

/** Users listed on a repository's timeline at most: those of one repository, not of an owner. */
const PEOPLE = 50

/**
 * The users whose plans hold the repository or who enabled its old webhooks, and who have a
 * timeline (they signed in: app.inventory); both sources read by the repository's index.
 */
async function peopleOf(db: Kysely<Database>, repoId: number): Promise<Person[]> {
  const { rows } = await sql<Person>`
    select i.user_id as id, i.user_login as login, bool_or(p.planned) as planned, bool_or(not p.planned) as enabled
    from (
      select b.user_id, true as planned from app.batch_repo r join app.batch b on b.id = r.batch_id where r.repo_id = ${repoId}
      union all
      select w.github_user_id, false from legacy.webhooks w where w.repo_id = ${repoId}
    ) p
    join app.inventory i on i.user_id = p.user_id
    group by i.user_id, i.user_login
    order by i.user_login, i.user_id
    limit ${PEOPLE}
  `.execute(db)
  return rows.map((r) => ({ ...r, id: Number(r.id) }))
}

/** The story of a user, an owner or a repository. */
export async function timelineOf(db: Kysely<Database>, subject: Subject): Promise<Timeline> {
  const summary: string[] = []
  let people: Person[] = []
  let filter: AuditFilter
  if (subject.kind === 'user') {
    filter = { user: String(subject.id) }
    const signIns = await sql<{ first: Date | null; last: Date | null; n: number }>`
      select min(at) as first, max(at) as last, count(*)::int as n from app.audit_event where actor_github_id = ${subject.id} and action = 'sign_in'`.execute(db)
    const s = signIns.rows[0]!
    summary.push(s.n === 0 ? `${subject.login} has not signed in here` : `${subject.login} signed in ${plural(s.n, 'time')}, last on ${s.last!.toISOString().slice(0, 16).replace('T', ' ')} UTC`)
    summary.push(...(await batchSummary(db, { userId: subject.id }, true)))
    const tasks = await db.selectFrom('app.cleanup_task').select(taskColumns).where('enabled_by', '=', subject.id).orderBy('hook_id').execute()
    summary.push(...cleanupSummary(tasks, `that ${subject.login} enabled`))
    const grant = await db.selectFrom('app.inventory').select('grant_revoked_at').where('user_id', '=', subject.id).executeTakeFirst()
    if (grant?.grant_revoked_at) summary.push(`disconnected the old app on ${grant.grant_revoked_at.toISOString().slice(0, 10)}`)
  } else if (subject.kind === 'owner') {
    filter = { owner: String(subject.id) }
    const installation = await db.selectFrom('app.installation').selectAll().where('account_id', '=', subject.id).where('deleted_at', 'is', null).executeTakeFirst()
    summary.push(
      installation === undefined
        ? `the App is not installed on ${subject.login}`
        : `the App is installed on ${subject.login} (installation ${installation.id}, ${installation.repository_selection === 'all' ? 'all repositories' : 'selected repositories'}${installation.suspended_at === null ? '' : ', suspended'})`,
    )
    summary.push(...(await batchSummary(db, { ownerId: subject.id }, false)))
    const tasks = await db.selectFrom('app.cleanup_task').select(taskColumns).where('owner_id', '=', subject.id).orderBy('hook_id').execute()
    summary.push(...cleanupSummary(tasks, `on ${subject.login}`))
  } else {
    filter = { repo: String(subject.id) }
    const planned = await db
      .selectFrom('app.batch_repo as r')
      .innerJoin('app.batch as b', 'b.id', 'r.batch_id')
      .select(['r.coverage', 'r.moved_to', 'b.owner_login', 'r.repo_name'])
      .where('r.repo_id', '=', subject.id)
      .orderBy('b.updated_at', 'desc')
      .executeTakeFirst()
    if (planned === undefined) summary.push(`${subject.name} is in no one's plan yet`)
    else {
      const words: Record<string, string> = {
        covered: 'covered by the App',
        not_covered: 'not covered by the App',
        unknown: 'not checked yet',
        gone: 'gone from GitHub',
        moved: `moved${planned.moved_to === null ? '' : ` to ${planned.moved_to}`}`,
      }
      summary.push(`${planned.owner_login}/${planned.repo_name}: ${words[planned.coverage]}`)
    }
    const tasks = await db.selectFrom('app.cleanup_task').select(taskColumns).where('repo_id', '=', subject.id).orderBy('hook_id').execute()
    summary.push(...cleanupSummary(tasks, 'of it'))
    people = await peopleOf(db, subject.id)
  }
  const page = await searchAudit(db, filter, { limit: SHOWN })
  const entries = page.events.reverse().map((e) => ({ id: e.id, at: e.at, text: sentence(e), outcome: e.outcome }))
  return { subject, summary, people, entries, more: page.next !== undefined, filter }
}
