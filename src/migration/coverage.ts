import { sql, type Kysely } from 'kysely'
import type { Coverage, Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { githubStatus } from '../github/token-fault.js'
import { appendAudit, type AuditActor } from './audit.js'
import { checked, checkedOk, uninstalled } from './batch-state.js'
import { unwatched, type Progress } from './background-work.js'
import type { SendCleanup } from './cleanup.js'
import { planTasks } from './cleanup-task.js'
import { installationNow, liveInstallationOf, recordInstallation } from './installations.js'
import { legacyTokenOf } from './legacy-token.js'
import { batchesOfOwner, type StoredBatch } from './plan-store.js'
import { lastPage, lookupRepos, refreshRepos, whenRevoked, type RepoNow } from './repo-refresh.js'

// Which legacy repositories the App's installation on an owner covers, asked with an
// installation token (GET /installation/repositories, every page, once per check) and compared
// by id. Only a repository the listing misses is looked up, once, with the legacy token of a
// user who can answer for it, to tell "not covered" from "gone" and "moved to another owner".
// Every batch of the owner, whichever user planned it, gets the result: coverage is a fact
// about the owner.

export interface CoverageCounts {
  covered: number
  not_covered: number
  gone: number
  moved: number
  unknown: number
}

export function countCoverage(repos: Iterable<{ coverage: Coverage }>): CoverageCounts {
  const counts: CoverageCounts = { covered: 0, not_covered: 0, gone: 0, moved: 0, unknown: 0 }
  for (const repo of repos) counts[repo.coverage] += 1
  return counts
}

/** An org hook sends events of every repository: only an installation on all of them replaces it. */
export function orgHooksCovered(batch: Pick<StoredBatch, 'installation'>): boolean {
  return batch.installation?.repository_selection === 'all' && batch.installation.suspended_at === null
}

/** Everything this user migrates to this owner is covered: their old hooks may go. */
export function batchCovered(batch: StoredBatch): boolean {
  const counts = countCoverage(batch.repos)
  return (
    batch.installation !== undefined &&
    batch.state !== 'blocked' &&
    counts.covered > 0 === batch.repos.length > 0 &&
    counts.not_covered + counts.unknown === 0 &&
    (batch.orgHooks.length === 0 || orgHooksCovered(batch))
  )
}

export interface Listed {
  selection: 'all' | 'selected'
  ids: Set<number>
  /** The repositories listed, with their names now. */
  repos: { id: number; name: string }[]
}

export async function listInstallationRepos(github: GitHubClients, installationId: number, progress: Progress = unwatched): Promise<Listed> {
  const octokit = await github.asInstallation(installationId)
  const listed: Listed = { selection: 'selected', ids: new Set(), repos: [] }
  let pages = 0
  for await (const page of octokit.paginate.iterator('GET /installation/repositories', { per_page: 100 })) {
    pages += 1
    await progress('listing', pages, lastPage(page.headers.link) ?? pages)
    // octokit's paginate moves the list's repository_selection onto the page's array.
    listed.selection = (page.data as unknown as { repository_selection: 'all' | 'selected' }).repository_selection
    for (const repo of page.data) {
      listed.ids.add(repo.id)
      listed.repos.push({ id: repo.id, name: repo.name })
    }
  }
  return listed
}

/** Past this many repositories to look up with one token, that user's repository list is read instead. */
const PAGE_OVER = 100

/**
 * Who can answer for each repository the listing missed, best first: a user who enabled it and
 * whose batch holds it (GitHub showed it to them when they last planned), then the others whose
 * batches hold it, then the others who enabled it (their token made its hook). Never every
 * vendor user of the owner: one token per repository, the next only when the one before is gone.
 */
async function answerers(db: Kysely<Database>, batches: StoredBatch[], ids: number[]): Promise<Map<number, number[]>> {
  const rows = await db
    .selectFrom('legacy.webhooks')
    .select(['repo_id', 'github_user_id'])
    .where('kind', '=', 'repo')
    .where('repo_id', 'in', ids)
    .orderBy('created_at')
    .orderBy('id')
    .execute()
  const enablers = new Map<number, number[]>(ids.map((id) => [id, []]))
  for (const row of rows) enablers.get(row.repo_id!)!.push(row.github_user_id)
  const holders = new Map<number, number[]>(ids.map((id) => [id, []]))
  for (const batch of batches) for (const repo of batch.repos) holders.get(repo.repo_id)?.push(batch.user_id)
  return new Map(
    ids.map((id) => {
      const enabled = enablers.get(id)!
      const held = holders.get(id)!
      return [id, [...new Set([...held.filter((u) => enabled.includes(u)), ...held, ...enabled])]]
    }),
  )
}

/**
 * For repositories the installation does not list: gone, moved, or there but not covered; each
 * looked up once, with the token of one user who can answer for it. A token that is not on
 * record or that GitHub no longer takes says nothing about any repository: its repositories go
 * to their next user. Any other refusal is kept per repository (unseen), and the rest goes on.
 */
async function whereabouts(db: Kysely<Database>, github: GitHubClients, batches: StoredBatch[], ids: number[], progress: Progress): Promise<Map<number, RepoNow>> {
  const found = new Map<number, RepoNow>()
  if (ids.length === 0) return found
  await progress('lookups', 0, ids.length)
  const who = await answerers(db, batches, ids)
  const dead = new Set<number>()
  let pending = ids
  while (pending.length > 0) {
    const groups = new Map<number, number[]>()
    for (const id of pending) {
      const userId = who.get(id)!.find((u) => !dead.has(u))
      if (userId !== undefined) groups.set(userId, [...(groups.get(userId) ?? []), id])
    }
    pending = []
    await Promise.all(
      [...groups].map(async ([userId, repoIds]) => {
        const token = await legacyTokenOf(db, userId)
        // Many at once (a large batch, partly installed): the user's own list, 100 a page, costs
        // far fewer requests than one lookup each, and the user's hourly quota is shared with the
        // rest of the migration.
        const looked =
          token == null
            ? undefined
            : await (repoIds.length > PAGE_OVER ? refreshRepos(github.asUser(token), repoIds).then((r) => r.repos) : lookupRepos(github.asUser(token), repoIds)).catch(
                whenRevoked(() => undefined),
              )
        if (looked === undefined) {
          dead.add(userId)
          pending.push(...repoIds)
        } else {
          for (const [id, now] of looked) found.set(id, now)
          await progress('lookups', found.size, ids.length)
        }
      }),
    )
  }
  return found
}

function verdict(repoId: number, ownerId: number, listed: Listed, now: RepoNow | undefined): { coverage: Coverage; movedTo: string | null } {
  if (listed.ids.has(repoId)) return { coverage: 'covered', movedTo: null }
  if (now?.status === 'gone') return { coverage: 'gone', movedTo: null }
  if (now?.status === 'current' && now.repo.ownerId !== ownerId) return { coverage: 'moved', movedTo: now.repo.ownerLogin }
  return { coverage: 'not_covered', movedTo: null }
}

const SUSPENDED = (login: string): string => `The App's installation on ${login} is suspended: GitHub sends it no events until it is unsuspended.`

export interface CheckContext {
  actor: AuditActor
  requestId?: string
  /** Sends the cleanup of an owner whose hooks the check found covered for users who agreed. */
  cleanup: SendCleanup
}

async function recordProblem(db: Kysely<Database>, batches: StoredBatch[], installationId: number | null, problem: string, context: Omit<CheckContext, 'cleanup'>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const batch of batches) {
      // Without an installation, an install is the next step again.
      if (installationId === null) await uninstalled(trx, { batchId: batch.id }, problem)
      else await checked(trx, { batchId: batch.id }, problem)
      await trx.updateTable('app.batch_repo').set({ coverage: 'not_covered' }).where('batch_id', '=', batch.id).where('coverage', '=', 'covered').execute()
      await appendAudit(trx, {
        actor: context.actor,
        action: 'coverage_checked',
        target: { ownerId: batch.owner_id, ownerLogin: batch.owner_login, ...(installationId === null ? {} : { installationId }) },
        outcome: 'not_covered',
        reason: problem,
        requestId: context.requestId,
        detail: { forUser: batch.user_id },
      })
    }
  })
}

/**
 * Within a request: a check GitHub could not answer now (an outage, a rate limit) is written on
 * the owner's batches for the page, with "Check again", instead of failing the page.
 */
export async function checkCoverageNow(db: Kysely<Database>, github: GitHubClients, ownerId: number, context: CheckContext, progress: Progress = unwatched): Promise<void> {
  try {
    await checkCoverage(db, github, ownerId, context, progress)
  } catch (error) {
    const status = githubStatus(error)
    await noteUnanswered(db, ownerId, `GitHub did not answer when coverage was checked (HTTP ${status}): check again in a moment.`, context)
  }
}

/** Writes on the owner's batches (or one user's) that GitHub did not answer, keeping what it said before. */
export async function noteUnanswered(db: Kysely<Database>, ownerId: number, problem: string, context: Omit<CheckContext, 'cleanup'>, userId?: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const batches = await checked(trx, userId === undefined ? { ownerId } : { ownerId, userId }, problem, false)
    for (const batch of batches) {
      await appendAudit(trx, {
        actor: context.actor,
        action: 'coverage_checked',
        target: { ownerId, ownerLogin: batch.owner_login, ...(batch.installation_id === null ? {} : { installationId: batch.installation_id }) },
        outcome: 'unanswered',
        reason: problem,
        requestId: context.requestId,
        detail: { forUser: batch.user_id },
      })
    }
  })
}

/** Checks, records and audits coverage for every batch of the owner. */
export async function checkCoverage(db: Kysely<Database>, github: GitHubClients, ownerId: number, context: CheckContext, progress: Progress = unwatched): Promise<void> {
  const batches = await batchesOfOwner(db, ownerId)
  // Repositories are being added to this owner's installation, one webhook each: the job
  // adding them checks once when it is done, instead of a check per repository added.
  if (batches.length === 0 || batches.some((b) => b.state === 'adding')) return
  const installation = await liveInstallationOf(db, ownerId)
  const login = batches[0]!.owner_login
  if (installation === undefined) {
    return recordProblem(db, batches, null, `The App is not installed on ${login}.`, context)
  }
  let listed: Listed
  try {
    listed = await listInstallationRepos(github, installation.id, progress)
  } catch (error) {
    // GitHub knows better than our record: uninstalled or suspended since we last heard. A
    // token refused (401: a cached token of an installation deleted since; 403: suspended;
    // 404: no token for an installation that is gone) is explained by asking, as the App,
    // what became of the installation.
    const { status, message } = error as { status?: number; message?: string }
    // Out of quota is GitHub saying "later", not anything about the installation.
    if ((status !== 401 && status !== 403 && status !== 404) || /rate limit/i.test(String(message))) throw error
    const now = await installationNow(github, installation.id, installation.account_login)
    if (now === undefined) {
      await db.updateTable('app.installation').set({ deleted_at: sql<Date>`now()` }).where('id', '=', installation.id).execute()
      return recordProblem(db, batches, null, `The App is no longer installed on ${login}.`, context)
    }
    if (now.suspendedAt !== null) {
      await recordInstallation(db, now)
      return recordProblem(db, batches, installation.id, SUSPENDED(login), context)
    }
    if (status === 403) return recordProblem(db, batches, installation.id, `GitHub refused the App's installation on ${login}.`, context)
    throw error
  }
  // A repository in several users' batches is looked up once: what it is now is a fact about it.
  const unlisted = [...new Set(batches.flatMap((b) => b.repos.map((r) => r.repo_id)))].filter((id) => !listed.ids.has(id))
  const now = await whereabouts(db, github, batches, unlisted, progress)
  const results = new Map(batches.map((batch) => [batch.id, new Map(batch.repos.map((r) => [r.repo_id, verdict(r.repo_id, ownerId, listed, now.get(r.repo_id))]))]))
  await db.transaction().execute(async (trx) => {
    // GitHub gives no token to a suspended installation: this one is not (or no longer) suspended.
    await trx.updateTable('app.installation').set({ repository_selection: listed.selection, suspended_at: null, updated_at: sql<Date>`now()` }).where('id', '=', installation.id).execute()
    for (const batch of batches) {
      const verdicts = results.get(batch.id)!
      // The batch row before its repositories' rows: the order planning and add runs lock them
      // in, so that no two of them can wait on each other.
      await checkedOk(trx, installation.id, { batchId: batch.id })
      // One statement per distinct verdict, not one per repository: batches run to hundreds.
      const groups = new Map<string, { verdict: { coverage: Coverage; movedTo: string | null }; ids: number[] }>()
      for (const [repoId, v] of verdicts) {
        const key = JSON.stringify([v.coverage, v.movedTo])
        const group = groups.get(key) ?? { verdict: v, ids: [] }
        groups.set(key, group)
        group.ids.push(repoId)
      }
      for (const { verdict: v, ids } of groups.values()) {
        await trx.updateTable('app.batch_repo').set({ coverage: v.coverage, moved_to: v.movedTo }).where('batch_id', '=', batch.id).where('repo_id', 'in', ids).execute()
      }
      const counts = countCoverage(verdicts.values())
      const hooksCovered = batch.orgHooks.length === 0 || listed.selection === 'all'
      await appendAudit(trx, {
        actor: context.actor,
        action: 'coverage_checked',
        target: { ownerId: batch.owner_id, ownerLogin: batch.owner_login, installationId: installation.id },
        outcome: counts.not_covered === 0 && hooksCovered ? 'covered' : 'not_covered',
        requestId: context.requestId,
        detail: { forUser: batch.user_id, repositorySelection: listed.selection, ...counts, orgHooks: batch.orgHooks.length, orgHooksCovered: hooksCovered },
      })
    }
    // Covered for users who agreed to removal as the App covers them: their old hooks' tasks,
    // with this result, and the run that removes them (an org owner's approval days later, or
    // repositories added later, end here through the App's webhooks).
    const owners = await planTasks(trx, batches.map((b) => b.id), context.actor, { agreedOnly: true, requestId: context.requestId })
    if (owners.length > 0) await context.cleanup(trx, ownerId)
  })
}
