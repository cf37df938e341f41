import type { GitHubConfig } from '../config.js'
import type { Work } from '../migration/background-work.js'
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
  /** Nothing this user can do: an owner of the account must act. */
  | 'none'
  /** Only others' repositories this user cannot see: an owner must install, this user cannot name them. */
  | 'owners-only'
  /** Installed, and every repository of the batch was deleted or moved elsewhere since. */
  | 'nothing-left'

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
}

function nextStep(batch: StoredBatch, covered: boolean, counts: CoverageCounts): NextStep {
  if (batch.state === 'adding') return 'adding'
  if (batch.installation_id === null || batch.installation === undefined) {
    if (batch.action === 'none') return 'none'
    if (batch.state === 'request_pending') return 'waiting'
    if (!canLink(batch)) return 'owners-only'
    return batch.action
  }
  if (covered) return 'covered'
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
export function batchView(batch: StoredBatch, github: Pick<GitHubConfig, 'webUrl'>, coverage?: Work): BatchView {
  const counts = countCoverage(batch.repos)
  const covered = batchCovered(batch)
  const eligible = batch.repos.filter(stillToInstall).length
  return {
    batch,
    counts,
    covered,
    orgHooksCovered: orgHooksCovered(batch),
    next: nextStep(batch, covered, counts),
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

/** `coverage`: the coverage checks of the plan's owners (loadWork). */
export function wizardPage(plan: StoredPlan, github: Pick<GitHubConfig, 'webUrl'>, coverage: Work[] = []) {
  const batches = plan.batches.map((b) => batchView(b, github, coverage.find((w) => w.subject_id === b.owner_id)))
  return {
    title: 'Your migration',
    plannedAt: plan.plannedAt,
    gone: plan.gone,
    notes: plan.notes,
    batches,
    // Progress shows itself: the page reloads while repositories are being added or checked.
    refreshSeconds: batches.some((b) => b.next === 'adding' || b.checking !== undefined) ? 2 : undefined,
    // A check under way is updated in place by the page's script (which reloads once it ends);
    // repositories being added only by reloading.
    progressScript: batches.some((b) => b.checking !== undefined) && !batches.some((b) => b.next === 'adding'),
  }
}
