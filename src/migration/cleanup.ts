import { sql, type Kysely } from 'kysely'
import type { CleanupCredential, Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import type { GitHubOctokit } from '../github/octokit.js'
import { explainFault, githubStatus, tokenFault, type TokenFault } from '../github/token-fault.js'
import { finish, intent, openTasks, type CleanupTask } from './cleanup-task.js'
import { listInstallationRepos, type Listed } from './coverage.js'
import { liveInstallationOf } from './installations.js'
import { movedAway, repositoryOfHook } from './hook-address.js'
import { legacyTokenOf } from './legacy-token.js'

// Removing an owner's legacy hooks: one run takes the owner's open tasks, confirms with GitHub
// that the App covers them (the installation's listing, once per run: a webhook's word alone
// never deletes anything), then, hook by hook, reads the hook with the credential that can,
// keeps it unless it delivers to the legacy URL, commits the intent, deletes it, and commits the
// outcome. Each enabling user's tasks run in order on that user's lane; the users' run side by
// side, as the lanes allow.
//
// Which credential: a repository hook, its enabling user's legacy token, else (revoked, no
// scope, single sign-on, no longer an admin) the App's installation token, which deletes with
// the repository_hooks permission. An organization hook only with the legacy token: GitHub
// shows an OAuth App's organization hooks to nobody else.

/** Sends an owner's cleanup run in the caller's transaction (keyed by the owner: one waits at most). */
export type SendCleanup = (db: Kysely<Database>, ownerId: number, afterSeconds?: number) => Promise<unknown>

export interface CleanupOptions {
  /** The legacy hooks' delivery URL: a hook that does not deliver there is never deleted. */
  hookUrl: string
  /** Tasks one run takes at most; the rest is the next run's, sent before this one ends. */
  maxTasks: number
  /**
   * Tasks of one enabling user a run takes at most: a user's deletes are a second apart, so
   * this bounds how long a run lasts, while every user of the owner goes on side by side.
   */
  perUser?: number
  /** Asks for another run of this owner, after this many seconds. */
  again: (ownerId: number, afterSeconds: number) => Promise<void>
}

/** After GitHub did not answer for a hook (a 5xx past retries, a lane parked past its wait), its next try waits this long. */
export const LATER_SECONDS = 60

/**
 * Users whose tasks run side by side within one run. Each mostly waits for its own lane (a write
 * a second), so many together keep the lanes' requests in flight busy; the lanes cap those.
 */
const SIDE_BY_SIDE = 32

type Read =
  /** `repo`: where the repository of a repository's hook is now (owner/name), as the hook's own address says. */
  | { kind: 'present'; url: string; repo?: string | undefined }
  /** Confirmed gone by a read: a credential that would see it says it is not there. */
  | { kind: 'absent' }
  /** This credential cannot tell; the next may. */
  | { kind: 'fault'; fault: TokenFault }
  /** The installation no longer reaches the repository: it left since the run's listing (transferred, deleted, taken out). */
  | { kind: 'uncovered' }

interface Credential {
  kind: CleanupCredential
  /** Reads the hook, and after a 404 confirms that this credential would have seen it. */
  read(task: CleanupTask): Promise<Read>
  remove(task: CleanupTask): Promise<void>
}

/** Where a hook delivers, as GitHub answers a hook (its `config.url`). */
const urlOf = (data: unknown): string => String((data as { config: { url: unknown } }).config.url)

function hookPage(webUrl: string, task: CleanupTask): string {
  const base = task.kind === 'repo' ? `${webUrl}/${task.owner_login}/${task.repo_name}` : `${webUrl}/organizations/${task.owner_login}`
  return `${base}/settings/hooks/${task.hook_id}`
}

const where = (task: CleanupTask): string => (task.kind === 'repo' ? `${task.owner_login}/${task.repo_name}` : `the organization ${task.owner_login}`)

/** GitHub's answer classified; anything that is not an answer (a defect) is thrown on. */
function faultOf(error: unknown): TokenFault {
  githubStatus(error)
  return tokenFault(error)
}

/** A fault that says nothing about the credential: GitHub did not answer, try later. */
const isLater = (fault: TokenFault): boolean => fault.kind === 'unavailable'

/** The hook as GitHub shows it to this credential: its URL, or why not (a 404 as not_found, unconfirmed). */
async function readHook(octokit: GitHubOctokit, task: CleanupTask): Promise<Read> {
  try {
    const { data } =
      task.kind === 'repo'
        ? await octokit.request('GET /repositories/{repository_id}/hooks/{hook_id}', { repository_id: task.repo_id!, hook_id: task.hook_id })
        : await octokit.request('GET /orgs/{org}/hooks/{hook_id}', { org: task.owner_login, hook_id: task.hook_id })
    return { kind: 'present', url: urlOf(data), repo: task.kind === 'repo' ? repositoryOfHook(data) : undefined }
  } catch (error) {
    return { kind: 'fault', fault: faultOf(error) }
  }
}

async function deleteHook(octokit: GitHubOctokit, task: CleanupTask): Promise<void> {
  if (task.kind === 'repo') await octokit.request('DELETE /repositories/{repository_id}/hooks/{hook_id}', { repository_id: task.repo_id!, hook_id: task.hook_id })
  else await octokit.request('DELETE /orgs/{org}/hooks/{hook_id}', { org: task.owner_login, hook_id: task.hook_id })
}

const notFound = (read: Read): boolean => read.kind === 'fault' && read.fault.kind === 'not_found'

function legacyCredential(octokit: GitHubOctokit): Credential {
  return {
    kind: 'legacy',
    async read(task) {
      const read = await readHook(octokit, task)
      if (!notFound(read)) return read
      // GitHub answers 404 for a hook that is gone and for one out of the token's sight alike:
      // gone only if the token still administers the repository (or may list the organization's hooks).
      try {
        if (task.kind === 'repo') {
          const { data } = await octokit.request('GET /repositories/{repository_id}', { repository_id: task.repo_id! })
          return (data as { permissions?: { admin?: boolean } }).permissions?.admin === true ? { kind: 'absent' } : read
        }
        // The organization's hooks listed to this token (an owner's, with admin:org_hook), without this one.
        await octokit.request('GET /orgs/{org}/hooks', { org: task.owner_login, per_page: 1 })
        return { kind: 'absent' }
      } catch (error) {
        return { kind: 'fault', fault: faultOf(error) }
      }
    },
    remove: (task) => deleteHook(octokit, task),
  }
}

/**
 * The installation listed the repository this run, but it may have left since (a transfer, a
 * deletion): a 404 is the hook's absence only while the installation still reaches the repository.
 */
function installationCredential(octokit: GitHubOctokit): Credential {
  return {
    kind: 'installation',
    async read(task) {
      const read = await readHook(octokit, task)
      if (!notFound(read)) return read
      try {
        await octokit.request('GET /repositories/{repository_id}', { repository_id: task.repo_id! })
        return { kind: 'absent' }
      } catch (error) {
        const fault = faultOf(error)
        return fault.kind === 'not_found' ? { kind: 'uncovered' } : { kind: 'fault', fault }
      }
    },
    remove: (task) => deleteHook(octokit, task),
  }
}

/** Why a credential could not be used, in words for the person who deletes the hook by hand. */
function whyNot(kind: CleanupCredential, fault: TokenFault | 'no_token', enabler: string): string {
  if (fault === 'no_token') return `the vendor holds no working legacy token of ${enabler}`
  if (kind === 'installation') {
    // GitHub's 403 to an installation token is "Resource not accessible by integration": a permission it lacks.
    return fault.kind === 'forbidden' ? 'the App lacks the Webhooks permission (repository_hooks: write) on this repository' : `GitHub refused the App's installation (${fault.kind})`
  }
  if (fault.kind === 'revoked') return `the legacy token of ${enabler} was revoked`
  // Without single sign-on's "approve it at the link, then look again": the reason shows no
  // such link, and a hook that needs a person is not looked at again.
  return explainFault(fault.kind === 'sso' ? { kind: 'sso', url: undefined } : fault, `this hook (the legacy token of ${enabler})`).replace(/\.$/, '')
}

interface RunContext {
  db: Kysely<Database>
  github: GitHubClients
  options: CleanupOptions
  installationId: number
  /** The installation's account as the service knows it now (renamed since a task was planned, too). */
  accountLogin: string
  /** The installation's credential, made once a run. */
  installation?: Credential
  /** Set when a hook has to wait for GitHub: the owner runs again later. */
  later: boolean
}

/** One enabling user's side of a run: who they are, and their legacy token while it works. */
interface Enabler {
  login: string
  legacy: Credential | undefined
  /** Why the legacy token cannot be used (none on record; revoked, or refused for SSO or a scope, this run). */
  unusable: string | undefined
}

/** Removes one hook; leaves it open (and asks for a later run) when GitHub did not answer. */
async function removeOne(context: RunContext, enabler: Enabler, task: CleanupTask, credentials: Credential[], failures: string[]): Promise<void> {
  const { db, options, installationId } = context
  const at = { installationId }
  for (const credential of credentials) {
    const read = await credential.read(task)
    if (read.kind === 'fault') {
      if (isLater(read.fault)) return void (context.later = true)
      failures.push(refused(enabler, credential, read.fault))
      continue
    }
    if (read.kind === 'uncovered') {
      // Kept: it may deliver what nothing else does now. An attempt of ours may have removed it already.
      const attempted = task.state === 'attempting' ? ' A removal was sent earlier without GitHub confirming it: it may be gone already.' : ''
      await finish(db, task, 'not_covered', { credential: credential.kind, reason: `${notCoveredReason(task)}${attempted}`, ...at })
      return
    }
    if (read.kind === 'absent') {
      // Our attempt, whose answer was lost (a crash, a dropped connection), preceded the 404.
      await finish(db, task, task.state === 'attempting' ? 'removed' : 'already_absent', { credential: credential.kind, ...at })
      return
    }
    // Transferred after the run's listing to an account where the enabling user is still an
    // admin: the legacy token reads the hook there and could delete it, but the installation
    // that covered it is on the account it left.
    if (task.kind === 'repo' && movedAway(context.accountLogin, read.repo)) {
      await finish(db, task, 'not_covered', {
        credential: credential.kind,
        reason: `Kept: ${task.owner_login}/${task.repo_name} is now ${read.repo}, no longer on ${context.accountLogin}, where the App's installation covered it; it was left in place.`,
        ...at,
      })
      return
    }
    if (!read.url.startsWith(options.hookUrl)) {
      await finish(db, task, 'skipped_foreign', {
        credential: credential.kind,
        reason: `Hook ${task.hook_id} on ${where(task)} delivers to ${originOf(read.url)}, not to the old app: it was left in place.`,
        ...at,
      })
      return
    }
    if (!(await intent(db, task, credential.kind, installationId))) return
    try {
      await credential.remove(task)
    } catch (error) {
      const fault = faultOf(error)
      if (isLater(fault)) return void (context.later = true)
      // Attempted: a read that finds it gone counts it as removed.
      task = { ...task, state: 'attempting' }
      // Read a moment ago, 404 now: gone by our DELETE (its answer lost and retried) or someone's
      // after our attempt; or out of this credential's sight. A read tells which.
      if (fault.kind === 'not_found' && (await credential.read(task)).kind === 'absent') {
        await finish(db, task, 'removed', { credential: credential.kind, ...at })
        return
      }
      failures.push(refused(enabler, credential, fault))
      continue
    }
    await finish(db, task, 'removed', { credential: credential.kind, ...at })
    return
  }
  const why = task.kind === 'org' ? `${capital(failures.join('; '))}, and GitHub shows an old app's organization hook to that app's tokens only` : capital(failures.join(' and '))
  const page = hookPage(context.github.config.webUrl, task)
  // A removal sent without a clear answer (lost, or refused after a retry) may have taken
  // effect, and nothing here can look any more: the person looks before deleting.
  const todo =
    task.state === 'attempting'
      ? `. A removal was sent without GitHub confirming it: if hook ${task.hook_id} on ${where(task)} is still there, at ${page}, delete it by hand`
      : `: delete hook ${task.hook_id} on ${where(task)} by hand, at ${page}`
  await finish(db, task, 'needs_manual', { reason: `${why}${todo}.`, ...at })
}

const capital = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1)

function originOf(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'another address'
  }
}

/** The enabling user's login as the vendor recorded it, or their id when the vendor has no record of them. */
async function loginOf(db: Kysely<Database>, userId: number): Promise<string> {
  const { rows } = await sql<{ login: string }>`select coalesce((select login from legacy.oauth_users where github_user_id = ${userId}), 'user ' || ${userId}::text) as login`.execute(db)
  return rows[0]!.login
}

/** Why a credential failed, for the reason; a legacy token that fails for the whole owner is not tried again this run. */
function refused(enabler: Enabler, credential: Credential, fault: TokenFault): string {
  const why = whyNot(credential.kind, fault, enabler.login)
  if (credential.kind === 'legacy' && (fault.kind === 'revoked' || fault.kind === 'sso' || fault.kind === 'scope')) enabler.unusable = why
  return why
}

/** One enabling user's hooks, in order on their lane: their login and token read once for all of them. */
async function runUser(context: RunContext, userId: number, tasks: CleanupTask[]): Promise<void> {
  const login = await loginOf(context.db, userId)
  const token = await legacyTokenOf(context.db, userId)
  const enabler: Enabler = {
    login,
    legacy: token == null ? undefined : legacyCredential(context.github.asUser(token)),
    unusable: token == null ? whyNot('legacy', 'no_token', login) : undefined,
  }
  for (const task of tasks) {
    const failures = enabler.unusable === undefined ? [] : [enabler.unusable]
    const credentials = enabler.unusable === undefined ? [enabler.legacy!] : []
    if (task.kind === 'repo') {
      context.installation ??= installationCredential(await context.github.asInstallation(context.installationId))
      credentials.push(context.installation)
    }
    await removeOne(context, enabler, task, credentials, failures)
  }
}

/** Why a hook the installation no longer covers is kept. */
function notCoveredReason(task: CleanupTask): string {
  return task.kind === 'repo'
    ? `Kept: ${task.owner_login}/${task.repo_name} is no longer among the repositories the App's installation on ${task.owner_login} covers (removed from it, transferred or deleted).`
    : `Kept: the App's installation on ${task.owner_login} no longer covers all of its repositories, and an organization hook sends events of every one.`
}

/** Whether the installation's listing, read this run, still covers the task's hook. */
function stillCovered(listed: Listed, task: CleanupTask): boolean {
  return task.kind === 'repo' ? listed.ids.has(task.repo_id!) : listed.selection === 'all'
}

/** One run over an owner's open tasks. */
export async function runCleanup(db: Kysely<Database>, github: GitHubClients, ownerId: number, options: CleanupOptions): Promise<void> {
  const perUser = options.perUser ?? options.maxTasks
  const tasks = await openTasks(db, ownerId, options.maxTasks, perUser)
  if (tasks.length === 0) return
  const login = tasks[0]!.owner_login
  const installation = await liveInstallationOf(db, ownerId)
  const notCovered = async (reason: string, list: CleanupTask[], installationId?: number) => {
    for (const task of list) await finish(db, task, 'not_covered', { reason, ...(installationId === undefined ? {} : { installationId }) })
  }
  if (installation === undefined || installation.suspended_at !== null) {
    const why = installation === undefined ? `the App is no longer installed on ${login}` : `the App's installation on ${login} is suspended`
    return notCovered(`Kept: ${why}, so this hook still delivers what the App would not.`, tasks)
  }
  let listed: Listed
  try {
    listed = await listInstallationRepos(github, installation.id)
  } catch (error) {
    const fault = faultOf(error)
    if (isLater(fault)) return options.again(ownerId, LATER_SECONDS)
    // The installation's token refused: uninstalled or suspended since we heard. The coverage
    // check finds out which; until then nothing is deleted on the strength of an old record.
    return notCovered(`Kept: GitHub refused the App's installation on ${login} (HTTP ${(error as { status: number }).status}) when the cleanup confirmed coverage.`, tasks, installation.id)
  }
  const covered: CleanupTask[] = []
  const lost: CleanupTask[] = []
  for (const task of tasks) (stillCovered(listed, task) ? covered : lost).push(task)
  for (const task of lost) await finish(db, task, 'not_covered', { reason: notCoveredReason(task), installationId: installation.id })
  const context: RunContext = { db, github, options, installationId: installation.id, accountLogin: installation.account_login, later: false }
  const byUser = new Map<number, CleanupTask[]>()
  for (const task of covered) {
    const list = byUser.get(task.enabled_by) ?? []
    byUser.set(task.enabled_by, list)
    list.push(task)
  }
  const queue = [...byUser]
  await Promise.all(
    Array.from({ length: Math.min(SIDE_BY_SIDE, queue.length) }, async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) await runUser(context, next[0], next[1])
    }),
  )
  // Taken up to a bound: what is left is the next run's, at once.
  const bounded = tasks.length === options.maxTasks || [...byUser.values()].some((list) => list.length === perUser)
  if (context.later) await options.again(ownerId, LATER_SECONDS)
  else if (bounded) await options.again(ownerId, 0)
}
