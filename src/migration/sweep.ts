import { sql, type Kysely } from 'kysely'
import type { CleanupOutcome, Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { appendAudit, type AuditActor } from './audit.js'
import { runCleanup } from './cleanup.js'
import { coveredHooks, openTasks, sweepTasks, type SweptHook } from './cleanup-task.js'
import { listInstallationRepos } from './coverage.js'
import { fromApi, installationOn, recordInstallation, type ApiInstallation, type KnownInstallation } from './installations.js'

// The operator's sweep (`oauth-to-app cleanup`): legacy hooks of repositories an installation
// already covers, for users who installed the App without the wizard. The installations are
// GitHub's (as the App sees them), the coverage its listing, and the removal the wizard's own
// tasks and runs, with their outcomes and events.

export type SweepScope = { owner: string } | { all: true }

/** What the sweep found on one installation's account. */
export interface SweepPlan {
  installation: KnownInstallation
  hooks: SweptHook[]
}

export interface SweepProgress {
  /** An account's plan is known (before anything is written). */
  planned(plan: SweepPlan): void
  /** Hooks of the sweep with their outcome, of all it planned. */
  progress(done: number, total: number): void
}

export interface SweepResult {
  plans: SweepPlan[]
  /** Outcomes of the planned hooks, and those still open (GitHub did not answer in time). */
  outcomes: Partial<Record<CleanupOutcome | 'open', number>>
  /** The hooks a person has to delete, with why. */
  manual: { hookId: number; reason: string }[]
}

const SWEEP_ACTOR: AuditActor = { kind: 'system', login: 'oauth-to-app cleanup' }
/** Runs of one account at most, one after another, before the sweep reports what is still open. */
const MAX_RUNS = 50

/** The App's live installations in scope, as GitHub lists them to the App. */
export async function installationsInScope(github: GitHubClients, scope: SweepScope): Promise<KnownInstallation[]> {
  if ('owner' in scope) {
    const found = (await installationOn(github, { login: scope.owner, type: 'Organization' })) ?? (await installationOn(github, { login: scope.owner, type: 'User' }))
    return found === undefined || found.suspendedAt !== null ? [] : [found]
  }
  const all: KnownInstallation[] = []
  for await (const page of github.asApp.paginate.iterator('GET /app/installations', { per_page: 100 })) {
    for (const data of page.data as ApiInstallation[]) {
      const installation = fromApi(data, '')
      if (installation.suspendedAt === null) all.push(installation)
    }
  }
  return all
}

async function tally(db: Kysely<Database>, hookIds: number[]): Promise<Pick<SweepResult, 'outcomes' | 'manual'>> {
  const rows = await db.selectFrom('app.cleanup_task').select(['hook_id', 'state', 'reason']).where(sql<boolean>`hook_id = any(${hookIds}::bigint[])`).orderBy('hook_id').execute()
  const outcomes: SweepResult['outcomes'] = {}
  for (const row of rows) {
    const key = row.state === 'pending' || row.state === 'attempting' ? 'open' : row.state
    outcomes[key] = (outcomes[key] ?? 0) + 1
  }
  return { outcomes, manual: rows.filter((r) => r.state === 'needs_manual').map((r) => ({ hookId: r.hook_id, reason: r.reason! })) }
}

export async function sweep(db: Kysely<Database>, github: GitHubClients, scope: SweepScope, options: { dryRun: boolean; hookUrl: string; report: SweepProgress }): Promise<SweepResult> {
  const plans: SweepPlan[] = []
  for (const found of await installationsInScope(github, scope)) {
    const listed = await listInstallationRepos(github, found.id)
    const installation = { ...found, repositorySelection: listed.selection }
    const plan = { installation, hooks: await coveredHooks(db, { accountId: installation.accountId, repositorySelection: listed.selection }, listed.repos) }
    plans.push(plan)
    options.report.planned(plan)
  }
  const hookIds = plans.flatMap((p) => p.hooks.map((h) => h.hook_id))
  if (!options.dryRun) {
    for (const { installation, hooks } of plans) {
      await db.transaction().execute(async (trx) => {
        await recordInstallation(trx, installation)
        await sweepTasks(trx, installation, hooks, SWEEP_ACTOR)
      })
    }
    for (const { installation } of plans) {
      for (let runs = 0, later = false; !later && runs < MAX_RUNS && (await openTasks(db, installation.accountId, 1)).length > 0; runs++) {
        await runCleanup(db, github, installation.accountId, {
          hookUrl: options.hookUrl,
          maxTasks: 200,
          // GitHub did not answer for some: the summary says what is left, for another sweep.
          again: async (_owner, afterSeconds) => void (later = afterSeconds > 0),
        })
        const { outcomes } = await tally(db, hookIds)
        options.report.progress(hookIds.length - (outcomes.open ?? 0), hookIds.length)
      }
    }
  }
  const result = { plans, ...(options.dryRun ? { outcomes: {}, manual: [] } : await tally(db, hookIds)) }
  await appendAudit(db, {
    actor: SWEEP_ACTOR,
    action: 'cleanup_sweep',
    outcome: options.dryRun ? 'dry_run' : 'ok',
    detail: { scope: 'owner' in scope ? scope.owner : 'all', installations: plans.length, hooks: hookIds.length, outcomes: result.outcomes },
  })
  return result
}
