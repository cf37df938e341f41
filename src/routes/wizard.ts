import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import type { LegacyConfig } from '../config.js'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { startAdding } from '../migration/add-repos.js'
import { appendAudit } from '../migration/audit.js'
import { linkIssued } from '../migration/batch-state.js'
import type { Viewer } from '../migration/batches.js'
import { requestCoverage, type SendCoverage } from '../migration/coverage-job.js'
import { REPORT_TYPES, reportFileName, reportStream } from '../migration/before-report.js'
import { agree, anyTasks, consentOf, planTasks } from '../migration/cleanup-task.js'
import { revokeGrant } from '../migration/grant.js'
import { issueState, type StateKey } from '../migration/install-state.js'
import { canLink, installLinkRepos, installUrl, settingsUrl } from '../migration/install-link.js'
import { loadWork, underWay, type Work } from '../migration/background-work.js'
import { requestPlanning, type SendPlan } from '../migration/plan-job.js'
import { inOneSnapshot } from '../migration/kept-reads.js'
import { pageGlance } from '../migration/page-glance.js'
import { planCache } from '../migration/plan-cache.js'
import { loadBatch, type StoredBatch, type StoredPlan } from '../migration/plan-store.js'
import { taskCache, taskScope, type TaskScope } from '../migration/task-cache.js'
import { HttpError } from '../plugins/error-handler.js'
import { viewerOf } from './auth.js'
import { coverageProgress } from './coverage-progress.js'
import { planningText, planningProgress } from './planning-progress.js'
import { renderedPages } from './rendered-pages.js'
import { removalProgress, wizardPage, type CleanupData } from './wizard-page.js'

// The migration wizard: the signed-in user's batches, one per owner, kept in Postgres so a
// user who comes back finds them where they left them; and the steps on a batch (install,
// add missing repositories, check coverage), each a POST that is safe to send twice.

export interface WizardRoutesOptions {
  github: GitHubClients
  stateKey: StateKey
  legacy: LegacyConfig
}

export const wizardRoutes: FastifyPluginAsync<WizardRoutesOptions> = async (app, { github, stateKey, legacy }) => {
  function signedIn(request: FastifyRequest): Viewer {
    const viewer = viewerOf(request)
    if (viewer === undefined) throw new HttpError(401, 'Your session has ended. Please sign in again.')
    return viewer
  }

  /** A batch of the signed-in user's, or a 404 that says nothing of anyone else's. */
  async function ownBatch(request: FastifyRequest<{ Params: { id: string } }>, viewer: Viewer): Promise<StoredBatch> {
    const id = Number(request.params.id)
    const batch = Number.isSafeInteger(id) && id > 0 ? await loadBatch(app.db, id) : undefined
    if (batch === undefined || batch.user_id !== viewer.id) throw new HttpError(404, 'There is no such step in your migration. It may have been planned again since: reload your migration page.')
    return batch
  }

  const revokedPage = (reply: FastifyReply, viewer: Viewer) => reply.view('wizard-revoked.eta', { title: 'Legacy authorization revoked', login: viewer.login })
  const nothingPage = (reply: FastifyReply, viewer: Viewer) => reply.view('wizard-nothing.eta', { title: 'Nothing to migrate', login: viewer.login })
  const backTo = (reply: FastifyReply, batch?: { owner_login: string }) => reply.redirect(batch === undefined ? '/migrate' : `/migrate#owner-${batch.owner_login}`, 303)

  /** Plans read again only when their rows changed: a large one is most of the page's cost. */
  const plans = planCache()
  /** The removal tasks of a plan's hooks, likewise: 2,000 rows for a large plan. */
  const tasks = taskCache()

  const sendPlan: SendPlan = (trx, job, options) => app.queue.send(trx, 'plan', job, options)
  const sendCleanup = (trx: Parameters<SendPlan>[0], ownerId: number) => app.queue.send(trx, 'cleanup', { ownerId }, { singletonKey: String(ownerId) })
  /** Planning runs as a job; the page shows how far it has come. */
  async function requestPlan(request: FastifyRequest, viewer: Viewer): Promise<Work> {
    if (await app.db.transaction().execute((trx) => requestPlanning(trx, sendPlan, viewer, request.id))) app.queue.wake()
    return (await loadWork(app.db, 'plan', [viewer.id]))[0]!
  }
  const planOf = async (viewer: Viewer): Promise<Work | undefined> => (await loadWork(app.db, 'plan', [viewer.id]))[0]

  /** While planning runs: reloads without JavaScript, updates in place with it. */
  const watching = { refreshSeconds: 2, progressScript: true }

  /** Which removal tasks a plan's page shows: its batches' old hooks on its owners; one per plan kept, read on every visit. */
  const scopes = new WeakMap<StoredPlan, TaskScope>()
  const scopeOf = (plan: StoredPlan): TaskScope => {
    let scope = scopes.get(plan)
    if (scope === undefined) {
      // A loop, not flatMap: thousands of repositories.
      const ids: number[] = []
      for (const b of plan.batches) {
        for (const r of b.repos) ids.push(...r.hook_ids)
        for (const h of b.orgHooks) ids.push(h.hookId)
      }
      scope = taskScope(plan.batches.map((b) => b.owner_id), ids)
      scopes.set(plan, scope)
    }
    return scope
  }

  /** What the page of a plan is made of, besides the plan: the coverage checks of its owners and the removal of its old hooks, read through `db`. */
  const pageInputs = async (db: Kysely<Database>, plan: StoredPlan, viewer: Viewer) => ({
    plan,
    coverage: await loadWork(
      db,
      'coverage',
      plan.batches.map((b) => b.owner_id),
    ),
    cleanup: { tasks: await tasks.load(db, viewer.id, scopeOf(plan)), consent: await consentOf(db, viewer.id), canRevoke: legacy.oauthApp !== undefined } satisfies CleanupData,
  })
  type PageInputs = Awaited<ReturnType<typeof pageInputs>>
  const pageOf = (inputs: PageInputs) => wizardPage(inputs.plan, github.config, inputs.coverage, inputs.cleanup)

  /**
   * The user's plan, its planning and what its page is made of, read in one snapshot. Read one
   * after the other, a coverage check could end between the plan's read and its own: the page
   * showed the repositories it had just found covered as not checked yet, with no check under
   * way, and offered to install them again.
   */
  const readPage = async (viewer: Viewer) => (await glanceAtKept(viewer)) ?? readAll(viewer)

  /** A plan with something to show: an owner to migrate, or repositories gone since they were enabled. */
  const shownOf = (stored: StoredPlan | undefined) => (stored !== undefined && (stored.batches.length > 0 || stored.gone.length > 0) ? stored : undefined)

  /** The plan and tasks kept for the user, with the rest read in one statement; undefined when either changed, or none is kept. */
  async function glanceAtKept(viewer: Viewer) {
    const plan = plans.peek(viewer.id)
    const shown = shownOf(plan?.value)
    if (shown === undefined) return undefined
    // Kept whenever the plan is (every read of a shown plan reads its tasks too); if not, no fingerprint matches, and the page is read whole.
    const removals = tasks.peek(viewer.id)
    const glance = await pageGlance(
      app.db,
      viewer.id,
      shown.batches.map((b) => b.owner_id),
      scopeOf(shown),
    )
    if (glance.planFingerprint !== plan!.fingerprint || glance.tasksFingerprint !== removals?.fingerprint) return undefined
    const inputs: PageInputs = { plan: shown, coverage: glance.coverage, cleanup: { tasks: removals.value, consent: glance.consent, canRevoke: legacy.oauthApp !== undefined } }
    return { work: glance.planning, neverPlanned: false, inputs }
  }

  const readAll = (viewer: Viewer) =>
    app.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (trx) => {
        const stored = await plans.load(trx, viewer.id)
        const work = (await loadWork(trx, 'plan', [viewer.id]))[0]
        const shown = shownOf(stored)
        return { work, neverPlanned: stored === undefined && work === undefined, inputs: shown === undefined ? undefined : await pageInputs(trx, shown, viewer) }
      })

  /** Rendered pages kept per user: a large plan's page is most of a visit's cost. */
  const pages = renderedPages()
  /**
   * The wizard's page of `inputs`, with `extra` (planning under way, or what the last planning
   * said). Kept while everything it shows is the same: the plan and its removal tasks (the same
   * objects while their rows are unchanged), the rows below, the extras and who is signed in.
   */
  const sendPage = async (reply: FastifyReply, viewer: Viewer, inputs: PageInputs, extra: Record<string, unknown>) => {
    const { staffRole, csrf } = reply.locals as { staffRole?: string; csrf: string }
    const shown = JSON.stringify([viewer.login, staffRole ?? null, extra, inputs.coverage, inputs.cleanup.consent ?? null])
    const html = await pages.page(viewer.id, [inputs.plan, inputs.cleanup.tasks], shown, csrf, (marker) => reply.viewAsync('wizard.eta', { ...pageOf(inputs), ...extra, csrf: marker }))
    return reply.type('text/html; charset=utf-8').send(html)
  }

  app.get('/migrate', async (request, reply) => {
    const viewer = viewerOf(request)
    if (viewer === undefined) return reply.redirect('/auth/login')
    const { inputs, neverPlanned, ...read } = await readPage(viewer)
    let work = read.work
    // Never planned: planning starts, and the page shows it.
    if (neverPlanned) work = await requestPlan(request, viewer)
    if (underWay(work)) {
      if (inputs === undefined) return reply.view('wizard-planning.eta', { title: 'Planning your migration', progress: planningText(work!), ...watching })
      return sendPage(reply, viewer, inputs, { planning: planningText(work!), ...watching })
    }
    const outcome = work?.state === 'done' ? work.outcome : undefined
    if (outcome === 'nothing') return nothingPage(reply, viewer)
    if (work?.state === 'failed' && inputs === undefined) return reply.view('wizard-planning.eta', { title: 'Planning your migration', failed: work.message })
    if (outcome === 'revoked' && inputs === undefined) return revokedPage(reply, viewer)
    if (inputs === undefined) return nothingPage(reply, viewer)
    return sendPage(reply, viewer, inputs, { revoked: outcome === 'revoked', failed: work?.state === 'failed' ? work.message : undefined })
  })

  app.get('/migrate/progress', async (request) => {
    const viewer = signedIn(request)
    // Planning first: a plan that has ended had asked for its owners' checks when it did, so
    // what is read next finds them. (Read the other way round, planning could end, and its checks
    // begin, between the two reads: nothing would show as under way.)
    const planning = planningProgress(await planOf(viewer))
    const owners = await app.db.selectFrom('app.batch').select(['owner_id', 'owner_login']).where('user_id', '=', viewer.id).orderBy('owner_id').execute()
    const checks = await loadWork(
      app.db,
      'coverage',
      owners.map((o) => o.owner_id),
    )
    // Polled every second while anything runs: the whole plan (every repository, to count the
    // old hooks) is read only once some of the owners' hooks are being removed or were.
    // (A task is on a hook of the user's batches, so the user has a plan.)
    // The plan and its tasks in one snapshot, as on the page: one transaction, not one each.
    const { plan, removals } = await inOneSnapshot(app.db, async (trx) => {
      const plan = (await anyTasks(trx, viewer.id)) ? (await plans.load(trx, viewer.id))! : undefined
      return { plan, removals: plan === undefined ? new Map() : await tasks.load(trx, viewer.id, scopeOf(plan)) }
    })
    return { ...planning, coverage: coverageProgress(owners, checks), cleanup: removalProgress(plan?.batches ?? [], removals) }
  })

  // "A list of what was there before" (seed 000): the owner's old webhooks that this user's
  // batch lists, which is what GitHub lets them see, with what became of each.
  app.get<{ Params: { id: string } }>('/migrate/batches/:id/before.csv', async (request, reply) => {
    const viewer = signedIn(request)
    const batch = await ownBatch(request, viewer)
    await appendAudit(app.db, {
      actor: { kind: 'user', githubId: viewer.id, login: viewer.login },
      action: 'before_report',
      target: { ownerId: batch.owner_id, ownerLogin: batch.owner_login },
      outcome: 'ok',
      requestId: request.id,
      detail: { format: 'csv', batch: batch.id },
    })
    return reply
      .type(REPORT_TYPES.csv)
      .header('content-disposition', `attachment; filename="${reportFileName('csv', batch.owner_login)}"`)
      .send(await reportStream(app.pool, { kind: 'batch', batchId: batch.id }, 'csv'))
  })

  app.post('/migrate/refresh', async (request, reply) => {
    const viewer = signedIn(request)
    await requestPlan(request, viewer)
    return backTo(reply)
  })

  app.post<{ Params: { id: string } }>('/migrate/batches/:id/install', async (request, reply) => {
    const viewer = signedIn(request)
    const batch = await ownBatch(request, viewer)
    if (batch.action === 'none') throw new HttpError(403, `Only an owner or member of ${batch.owner_login} can install the App there.`)
    if (!canLink(batch)) {
      // Nothing of it left to install: covered (or gone) since the page was loaded, by a check
      // that ended meanwhile or an install in another tab. The page says what comes next.
      if (batch.repos.length > 0 && batch.hidden_repos === 0) return backTo(reply, batch)
      throw new HttpError(409, `Everything left on ${batch.owner_login} was enabled by others in repositories you cannot see: one of its owners has to install the App.`)
    }
    const repoIds = installLinkRepos(batch)
    const url = await app.db.transaction().execute(async (trx) => {
      const state = await issueState(trx, stateKey, batch, repoIds)
      await linkIssued(trx, batch.id)
      await appendAudit(trx, {
        actor: { kind: 'user', githubId: viewer.id, login: viewer.login },
        action: 'install_link_issued',
        target: { ownerId: batch.owner_id, ownerLogin: batch.owner_login, ...(batch.installation_id === null ? {} : { installationId: batch.installation_id }) },
        outcome: 'ok',
        requestId: request.id,
        detail: { flow: batch.action, repositories: repoIds.length === 0 ? 'all' : repoIds.length },
      })
      return installUrl(github.config, batch.owner_id, repoIds, state)
    })
    return reply.redirect(url, 303)
  })

  app.post<{ Params: { id: string }; Body: { via?: unknown } }>('/migrate/batches/:id/add', async (request, reply) => {
    const viewer = signedIn(request)
    const batch = await ownBatch(request, viewer)
    if (batch.action !== 'install' || batch.installation_id === null) throw new HttpError(409, `The App is not installed on ${batch.owner_login} yet, or you cannot change its installation.`)
    // After GitHub refused the legacy token, the settings page; unless the user asks to try the
    // API again (the token may work again: a new authorization imported, single sign-on approved).
    if (batch.state === 'add_refused' && request.body?.via !== 'api') return reply.redirect(settingsUrl(github.config, batch), 303)
    const missing = batch.repos.filter((r) => r.coverage === 'not_covered').map((r) => r.repo_id)
    // A second click while the first is adding, or nothing left to add: nothing more to do.
    const job = { batchId: batch.id, actor: viewer, requestId: request.id }
    if (await app.db.transaction().execute((trx) => startAdding(trx, (t, data) => app.queue.send(t, 'add-repos', data), batch.id, missing, job))) {
      app.queue.wake()
    }
    return backTo(reply, batch)
  })

  /**
   * The user agrees to the removal of the batch's old webhooks the App covers; with `auto`
   * ("as soon as the App covers them", the default), of every batch's, now and as coverage
   * comes. Each hook gets its task, and the owner's cleanup runs as a job.
   */
  app.post<{ Params: { id: string }; Body: { auto?: unknown } }>('/migrate/batches/:id/remove', async (request, reply) => {
    const viewer = signedIn(request)
    const batch = await ownBatch(request, viewer)
    const auto = request.body?.auto === 'on'
    // Before the App is installed only "as soon as it covers them" means anything: a member
    // agrees while the owners' approval is pending, and the removal runs when it comes.
    if (batch.installation_id === null && !auto) {
      throw new HttpError(409, `The App is not installed on ${batch.owner_login} yet: the old webhooks there go once it covers their repositories.`)
    }
    const actor = { kind: 'user' as const, githubId: viewer.id, login: viewer.login }
    await app.db.transaction().execute(async (trx) => {
      await agree(trx, viewer, auto)
      await appendAudit(trx, {
        actor,
        action: 'cleanup_agreed',
        target: { ownerId: batch.owner_id, ownerLogin: batch.owner_login, ...(batch.installation_id === null ? {} : { installationId: batch.installation_id }) },
        outcome: 'ok',
        requestId: request.id,
        detail: { auto },
      })
      const batchIds = auto ? (await trx.selectFrom('app.batch').select('id').where('user_id', '=', viewer.id).execute()).map((b) => b.id) : [batch.id]
      const owners = await planTasks(trx, batchIds, actor, { agreedOnly: false, requestId: request.id })
      // The batch's own owner runs either way once installed: a second press tries again what waits for GitHub.
      const run = batch.installation_id === null ? owners : [batch.owner_id, ...owners]
      for (const ownerId of new Set(run)) await sendCleanup(trx, ownerId)
    })
    app.queue.wake()
    return backTo(reply, batch)
  })

  /** The last step: the old app's grant revoked, once every old webhook has its outcome. */
  app.post('/migrate/disconnect', async (request, reply) => {
    const viewer = signedIn(request)
    const { inputs } = await readPage(viewer)
    const page = inputs === undefined ? undefined : pageOf(inputs)
    if (page?.disconnect === undefined) {
      throw new HttpError(409, 'Not every old webhook has its outcome yet: the old app stays connected until the migration is done. Your migration page shows what is left.')
    }
    if (legacy.oauthApp === undefined) {
      throw new HttpError(409, `This service cannot revoke the old app's authorization for you: revoke it on GitHub, at ${page.disconnect.settingsUrl}.`)
    }
    const result = await revokeGrant(app.db, github, legacy.oauthApp, viewer, request.id)
    // GitHub's answer, not a fault of this service: said in full, with what to do.
    const githubSaid = (status: number, message: string) => reply.code(status).view('error.eta', { title: 'GitHub did not revoke it', status, message })
    if (result.kind === 'unanswered') return githubSaid(503, "GitHub did not answer when we revoked the old app's authorization. Nothing was changed: try again in a moment.")
    if (result.kind === 'failed') return githubSaid(502, result.reason)
    return reply.redirect('/migrate#disconnect', 303)
  })

  const sendCoverage: SendCoverage = (trx, job, options) => app.queue.send(trx, 'coverage', job, options)
  /** A check of the owner's coverage, as a job: the page shows it waiting, then running, then its result. */
  app.post<{ Params: { id: string } }>('/migrate/batches/:id/check', async (request, reply) => {
    const viewer = signedIn(request)
    const batch = await ownBatch(request, viewer)
    const job = { ownerId: batch.owner_id, actor: { kind: 'user' as const, githubId: viewer.id, login: viewer.login }, requestId: request.id }
    if (await app.db.transaction().execute((trx) => requestCoverage(trx, sendCoverage, job))) app.queue.wake()
    return backTo(reply, batch)
  })
}
