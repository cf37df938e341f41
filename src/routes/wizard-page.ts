import type { GitHubConfig } from '../config.js'
import type { CleanupOutcome } from '../db/database.js'
import type { Work } from '../migration/background-work.js'
import type { CleanupTask } from '../migration/cleanup-task.js'
import { batchCovered, countCoverage, orgHooksCovered, type CoverageCounts } from '../migration/coverage.js'
import { canLink, installLinkRepos, MAX_LINK_REPOS, settingsUrl, stillToInstall } from '../migration/install-link.js'
import type { StoredBatch, StoredPlan } from '../migration/plan-store.js'
import { coverageState } from './coverage-progress.js'

// What the wizard page shows of a stored plan: per batch, where it stands and the one next
// step it offers.

export type NextStep =
  /** Install the App with the batch preselected. */
  | 'install'
  /** Ask an org owner to install it (GitHub's request flow). */
  | 'request'
  /** A request is with the org's owners. */
  | 'waiting'
  /** Installed; add the repositories it misses through the API. */
  | 'add'
  /** Installed; GitHub refused the API: tick them on the installation's settings page. */
  | 'settings'
  /** Installed; a member asks the owners to add what is missing. */
  | 'request-more'
  /** Repositories are being added right now. */
  | 'adding'
  | 'covered'
  /** Covered: the old webhooks can go, once the user agrees. */
  | 'remove'
  /** Covered: the old webhooks are being removed. */
  | 'removing'
  /** Covered, and every old webhook of the batch has its outcome. */
  | 'done'
  /** Nothing this user can do: an owner of the account must act. */
  | 'none'
  /** Only others' repositories this user cannot see: an owner must install, this user cannot name them. */
  | 'owners-only'
  /** Installed, and every repository of the batch was deleted or moved elsewhere since. */
  | 'nothing-left'

/** The batch's old webhooks, as far as removing them goes. */
export interface RemovalView {
  /** The old hooks the App covers now: these go. */
  covered: number
  /** Covered, with no task yet: they wait for the user's agreement. */
  toAgree: number
  /** Every old hook of the batch, covered or not. */
  hooks: number
  /** Removed, or found already gone. */
  removed: number
  /** Being removed. */
  remaining: number
  /** Ended otherwise: what a person should know or do, hook by hook. */
  attention: { hookId: number; where: string; outcome: CleanupOutcome; reason: string }[]
  /** The counts in words, as the page and its updates say them. */
  text: string
}

export interface BatchView {
  batch: StoredBatch
  counts: CoverageCounts
  covered: boolean
  orgHooksCovered: boolean
  next: NextStep
  /** Repositories the install link cannot preselect (added after the install). */
  beyondLink: number
  added: number
  toAdd: number
  settingsUrl: string | undefined
  approversUrl: string | undefined
  /** What stands in the way, for the person to read (GitHub did not answer, a suspended installation). */
  problem: string | null
  /** Why GitHub refused to add repositories through the API (the settings page is the way). */
  refusedBecause: string | null
  /** A coverage check of the owner waits or runs: what it is doing. */
  checking?: string
  /** The last coverage check of the owner failed in this service: what to do. */
  checkFailed?: string
  removal: RemovalView
}

/** What the page knows of removing the user's old webhooks. */
export interface CleanupData {
  tasks: Map<number, CleanupTask>
  /** Whether the user agreed before, and how: the form offers what they chose. */
  consent?: { auto: boolean } | undefined
  /** The vendor configured the legacy app's credentials: its grant can be revoked from here. */
  canRevoke?: boolean
}

const DONE: readonly string[] = ['removed', 'already_absent']

function removalView(batch: StoredBatch, tasks: Map<number, CleanupTask>): RemovalView {
  const view: RemovalView = { covered: 0, toAgree: 0, hooks: 0, removed: 0, remaining: 0, attention: [], text: '' }
  const count = (hookId: number, covered: boolean, where: string) => {
    const task = tasks.get(hookId)
    view.hooks += 1
    if (covered) view.covered += 1
    // Kept while it was not covered, covered again: it can go now.
    if (task === undefined || (task.state === 'not_covered' && covered)) {
      if (covered) view.toAgree += 1
      return
    }
    if (task.state === 'pending' || task.state === 'attempting') view.remaining += 1
    else if (DONE.includes(task.state)) view.removed += 1
    // Kept or needing a person always says why (a constraint of migration 0015).
    else view.attention.push({ hookId, where, outcome: task.state, reason: task.reason! })
  }
  for (const repo of batch.repos) for (const hookId of repo.hook_ids) count(hookId, repo.coverage === 'covered', `${batch.owner_login}/${repo.repo_name}`)
  for (const hook of batch.orgHooks) count(hook.hookId, orgHooksCovered(batch), `the organization ${batch.owner_login}`)
  view.text = removalText(view)
  return view
}

function nextStep(batch: StoredBatch, covered: boolean, counts: CoverageCounts, removal: RemovalView): NextStep {
  if (batch.state === 'adding') return 'adding'
  if (batch.installation_id === null || batch.installation === undefined) {
    if (batch.action === 'none') return 'none'
    if (batch.state === 'request_pending') return 'waiting'
    if (!canLink(batch)) return 'owners-only'
    return batch.action
  }
  if (covered) {
    if (removal.remaining > 0) return 'removing'
    if (removal.toAgree > 0) return 'remove'
    // Covered with nothing to remove: every old hook of it has its outcome.
    return removal.covered > 0 || removal.attention.length > 0 || removal.removed > 0 ? 'done' : 'covered'
  }
  if (batch.state === 'blocked') return 'none'
  const missingRepos = counts.not_covered > 0
  const hooksLeft = batch.orgHooks.length > 0 && !orgHooksCovered(batch)
  // Checked, nothing missing, no org hook left, yet not covered: all of it is gone or moved.
  if (!missingRepos && !hooksLeft && counts.unknown === 0) return 'nothing-left'
  if (batch.action === 'none') return 'none'
  if (batch.action === 'request') return 'request-more'
  // Only the org hook is left, or repositories not checked yet: the install link (again).
  if (!missingRepos) return 'install'
  return batch.state === 'add_refused' ? 'settings' : 'add'
}

/** `coverage`: the owner's coverage check, if one was ever asked for. */
export function batchView(batch: StoredBatch, github: Pick<GitHubConfig, 'webUrl'>, coverage?: Work, cleanup: CleanupData = { tasks: new Map() }): BatchView {
  const counts = countCoverage(batch.repos)
  const covered = batchCovered(batch)
  const removal = removalView(batch, cleanup.tasks)
  const eligible = batch.repos.filter(stillToInstall).length
  return {
    batch,
    counts,
    covered,
    orgHooksCovered: orgHooksCovered(batch),
    next: nextStep(batch, covered, counts, removal),
    removal,
    problem: batch.state === 'add_refused' ? null : batch.state_reason,
    refusedBecause: batch.state === 'add_refused' ? batch.state_reason : null,
    beyondLink: installLinkRepos(batch).length === 0 ? 0 : Math.max(0, eligible - MAX_LINK_REPOS),
    added: batch.repos.filter((r) => r.add_state === 'added').length,
    toAdd: batch.repos.filter((r) => r.add_state !== null).length,
    settingsUrl: batch.installation_id === null ? undefined : settingsUrl(github, batch),
    approversUrl: batch.owner_type === 'Organization' ? `${github.webUrl}/orgs/${encodeURIComponent(batch.owner_login)}/people?query=role%3Aowner` : undefined,
    ...coverageState(coverage, batch.owner_login),
  }
}

/** `coverage`: the coverage checks of the plan's owners (loadWork); `cleanup`: the tasks of the plan's old hooks. */
export function wizardPage(plan: StoredPlan, github: Pick<GitHubConfig, 'webUrl'>, coverage: Work[] = [], cleanup?: CleanupData) {
  const batches = plan.batches.map((b) => batchView(b, github, coverage.find((w) => w.subject_id === b.owner_id), cleanup))
  // Every batch covered and every old hook of it with its outcome (or nothing left to move).
  const finished = batches.length > 0 && batches.every((b) => b.next === 'done' || b.next === 'nothing-left' || b.next === 'covered')
  return {
    title: 'Your migration',
    consent: cleanup?.consent,
    /** The last step, once finished: disconnect the old app (by API when the vendor configured its credentials). */
    disconnect: finished
      ? { revokedAt: plan.grantRevokedAt, byApi: cleanup?.canRevoke === true, settingsUrl: `${github.webUrl}/settings/applications` }
      : undefined,
    plannedAt: plan.plannedAt,
    gone: plan.gone,
    notes: plan.notes,
    batches,
    // Progress shows itself: the page reloads while repositories are being added or checked, or
    // old webhooks removed.
    refreshSeconds: batches.some((b) => b.next === 'adding' || b.checking !== undefined || b.removal.remaining > 0) ? 2 : undefined,
    // A check or a removal under way is updated in place by the page's script (which reloads
    // once it ends); repositories being added only by reloading.
    progressScript: batches.some((b) => b.checking !== undefined || b.removal.remaining > 0) && !batches.some((b) => b.next === 'adding'),
  }
}

/** What GET /migrate/progress answers of the removal of each owner's old webhooks. */
export function removalProgress(batches: StoredBatch[], tasks: Map<number, CleanupTask>) {
  return batches.map((batch) => {
    const removal = removalView(batch, tasks)
    return { ownerId: batch.owner_id, ownerLogin: batch.owner_login, underWay: removal.remaining > 0, text: removal.text }
  })
}

/** The same words on the page and in its updates. */
function removalText(removal: Omit<RemovalView, 'text'>): string {
  const parts = [`${removal.removed} removed`, `${removal.remaining} remaining`]
  if (removal.attention.length > 0) parts.push(`${removal.attention.length} ${removal.attention.length === 1 ? 'needs' : 'need'} attention`)
  return `Old webhooks: ${parts.join(', ')}`
}
