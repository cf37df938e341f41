import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import type { GitHubOctokit } from '../github/octokit.js'
import { githubStatus } from '../github/token-fault.js'
import { startAdding, type Enqueue } from './add-repos.js'
import { orgOwners } from './approvers.js'
import { appendAudit, type AuditActor } from './audit.js'
import { installed, requestPending } from './batch-state.js'
import type { Viewer } from './batches.js'
import { requestCoverage, type SendCoverage } from './coverage-job.js'
import { claimState, type StatePayload } from './install-state.js'
import { fromApi, recordInstallation, type ApiInstallation } from './installations.js'
import { stillToInstall } from './install-link.js'
import type { RecordRefusal, RefusalKind } from './refusals.js'
import { findLink, linkStanding, usedLink, type LinkRefused, type SetupLink } from './setup-link.js'

// The end of an install: GitHub sent the user back to the setup URL with an installation id,
// which proves nothing by itself. It is believed only when the user's own token lists that
// installation (GET /user/installations), on the owner the signed state names, and the state
// is unused. Then it is recorded, and what the link could not preselect (GitHub takes at most
// 100 repositories) is added through the API, or else its coverage checked: both as jobs, queued
// with the record, so that the request makes no GitHub call but the verification itself.
// What comes back from a request to an org's owners is recorded here too (recordRequest): the
// setup route only reads the query and answers. The link's row is checked by one function
// (setup-link.ts) at both ends of GitHub's authorization.

/** How verifySetup queues the work after an install, in its transaction. */
export interface SetupJobs {
  addRepos: Enqueue
  coverage: SendCoverage
}

export interface PendingSetup extends StatePayload {
  installationId: number
  setupAction: 'install' | 'update'
}

export type SetupResult =
  | { kind: 'verified'; ownerLogin: string }
  /** Another tab or a double click finished this one first. */
  | { kind: 'already'; ownerLogin: string }
  | { kind: 'rejected'; status: 403 | 409; reason: string }
  /** GitHub did not answer the check: nothing recorded, the state unspent. */
  | { kind: 'unanswered' }

export async function verifySetup(
  db: Kysely<Database>,
  github: GitHubClients,
  userOctokit: GitHubOctokit,
  user: Viewer,
  pending: PendingSetup,
  jobs: SetupJobs,
  requestId?: string,
  /** Where refusals go: counted per client by the web side; one event each by default. */
  refuse: RecordRefusal = async (_kind, event) => void (await appendAudit(db, event)),
): Promise<SetupResult> {
  const actor: AuditActor = { kind: 'user', githubId: user.id, login: user.login }
  const link = await findLink(db, pending.nonce)
  const reject = async (kind: RefusalKind, status: 403 | 409, reason: string): Promise<SetupResult> => {
    await refuse(kind, {
      actor,
      action: 'installation_rejected',
      target: { ownerId: pending.ownerId, ...(link === undefined ? {} : { ownerLogin: link.batch.owner_login }), installationId: pending.installationId },
      outcome: 'rejected',
      reason,
      requestId,
    })
    return { kind: 'rejected', status, reason }
  }
  // Checked again, as before the authorization: the batch may have been planned again meanwhile, or the link spent in another tab.
  const standing = linkStanding(link, pending, user, pending.installationId, 'github')
  if (standing.kind === 'refused') return reject(standing.refusal, standing.status, standing.reason)
  const { state: stateRow, batch } = standing.link
  if (standing.kind === 'already') return { kind: 'already', ownerLogin: batch.owner_login }
  let found: ApiInstallation | undefined
  try {
    // Page by page until it is found: a user who administers many accounts has many pages.
    for await (const page of userOctokit.paginate.iterator('GET /user/installations', { per_page: 100 })) {
      found = (page.data as ApiInstallation[]).find((i) => i.id === pending.installationId)
      if (found !== undefined) break
    }
  } catch (error) {
    githubStatus(error)
    return { kind: 'unanswered' }
  }
  if (found === undefined) {
    return reject('not_listed', 403, `GitHub does not list installation ${pending.installationId} among the installations you can reach.`)
  }
  if (found.account?.id !== pending.ownerId) {
    return reject('other_owner', 403, `Installation ${pending.installationId} is on ${found.account?.login ?? 'another account'}, not on ${batch.owner_login}.`)
  }
  const installation = fromApi(found, batch.owner_login)
  // A batch larger than one link: the rest goes in through the API, queued with the
  // installation's record so that neither a failed check nor a reload of this page loses it.
  // (An installation on all repositories has them already.)
  const linked = new Set(stateRow.repo_ids)
  const rest =
    stateRow.repo_ids.length === 0 || installation.repositorySelection === 'all'
      ? []
      : batch.repos.filter((r) => !linked.has(r.repo_id) && stillToInstall(r)).map((r) => r.repo_id)
  const claimed = await db.transaction().execute(async (trx) => {
    if (!(await claimState(trx, pending.nonce))) return false
    await recordInstallation(trx, installation)
    await installed(trx, installation, { batchId: batch.id })
    await appendAudit(trx, {
      actor,
      action: 'installation_verified',
      target: { ownerId: batch.owner_id, ownerLogin: installation.accountLogin, installationId: installation.id },
      outcome: 'ok',
      requestId,
      detail: { setupAction: pending.setupAction, repositorySelection: installation.repositorySelection, preselected: stateRow.repo_ids.length },
    })
    const ids = requestId === undefined ? {} : { requestId }
    // While repositories are being added, the job adding them asks for the check when it is done.
    const adding = await startAdding(trx, jobs.addRepos, batch.id, rest, { batchId: batch.id, actor: { id: user.id, login: user.login }, ...ids })
    if (!adding) await requestCoverage(trx, jobs.coverage, { ownerId: batch.owner_id, actor, ...ids })
    return true
  })
  if (!claimed) return { kind: 'already', ownerLogin: batch.owner_login }
  return { kind: 'verified', ownerLogin: installation.accountLogin }
}

export type RequestResult = { kind: 'recorded'; ownerLogin: string } | LinkRefused

/**
 * A member's request reached the org's owners (GitHub sends no installation id for it, so
 * there is nothing to verify): the batch waits for their approval, naming whom to ask. The
 * link is spent by it; the signed webhook records the installation once an owner approves.
 * Answered in the words of the setup URL, the only place a request comes back to.
 */
export async function recordRequest(db: Kysely<Database>, github: GitHubClients, user: Viewer, link: SetupLink, requestId?: string): Promise<RequestResult> {
  const { batch } = link
  const approvers = await orgOwners(db, github, user.id, batch.owner_login)
  const recorded = await db.transaction().execute(async (trx) => {
    if (!(await claimState(trx, link.state.nonce))) return false
    await requestPending(trx, batch.id, approvers)
    await appendAudit(trx, {
      actor: { kind: 'user', githubId: user.id, login: user.login },
      action: 'request_pending',
      target: { ownerId: batch.owner_id, ownerLogin: batch.owner_login },
      outcome: 'ok',
      reason: `waiting for an owner of ${batch.owner_login} to approve`,
      detail: { approvers },
      requestId,
    })
    return true
  })
  return recorded ? { kind: 'recorded', ownerLogin: batch.owner_login } : usedLink('session')
}
