import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { appendAudit, type AuditActor } from './audit.js'
import { checkCoverage } from './coverage.js'
import { loadBatch } from './plan-store.js'

// Adding repositories to an existing installation with the user's legacy OAuth token
// (PUT /user/installations/{id}/repositories/{repo_id}), one at a time, each recorded as it
// lands so progress can be shown and a retried job does only what is left. GitHub documents
// the endpoint for classic personal access tokens; when it refuses the OAuth App's token the
// batch falls back to the installation's settings page, where the user ticks the repositories.

export interface AddReposJob {
  batchId: number
  actor: { id: number; login: string }
  requestId?: string
}

export interface Enqueue {
  (db: Kysely<Database>, job: AddReposJob): Promise<void>
}

/**
 * Marks the repositories to add and queues the work, in one transaction; false when the batch
 * is already adding (a second tab, a double click) or has no installation.
 */
export async function startAdding(db: Kysely<Database>, enqueue: Enqueue, batchId: number, repoIds: number[], job: AddReposJob): Promise<boolean> {
  if (repoIds.length === 0) return false
  return db.transaction().execute(async (trx) => {
    const batch = await trx
      .updateTable('app.batch')
      .set({ adding: true, updated_at: sql<Date>`now()` })
      .where('id', '=', batchId)
      .where('adding', '=', false)
      .where('installation_id', 'is not', null)
      .returning(['owner_id', 'owner_login', 'installation_id'])
      .executeTakeFirst()
    if (batch === undefined) return false
    await trx.updateTable('app.batch_repo').set({ add_state: 'pending', add_reason: null }).where('batch_id', '=', batchId).where('repo_id', 'in', repoIds).execute()
    await appendAudit(trx, {
      actor: { kind: 'user', githubId: job.actor.id, login: job.actor.login },
      action: 'repos_add_started',
      target: { ownerId: batch.owner_id, ownerLogin: batch.owner_login, installationId: batch.installation_id! },
      outcome: 'ok',
      requestId: job.requestId,
      detail: { repos: repoIds.length },
    })
    await enqueue(trx, job)
    return true
  })
}

type Attempt = { kind: 'added' } | { kind: 'failed'; reason: string } | { kind: 'refused'; reason: string }

function judge(error: unknown): Attempt {
  const { status, message } = error as { status?: number; message?: string }
  const said = message ?? ''
  if (status === 401) return { kind: 'refused', reason: 'GitHub no longer accepts the legacy OAuth token' }
  if (status === 403 && /admin/i.test(said)) return { kind: 'failed', reason: 'You need admin rights on this repository to add it.' }
  if (status === 403) return { kind: 'refused', reason: `GitHub refused the legacy OAuth token for this: ${said}` }
  if (status === 404 || status === 422) return { kind: 'failed', reason: `GitHub answered ${status}: ${said}` }
  throw error
}

export async function addRepos(db: Kysely<Database>, github: GitHubClients, job: AddReposJob): Promise<void> {
  const batch = await loadBatch(db, job.batchId)
  if (batch === undefined || !batch.adding || batch.installation_id === null) return
  const installationId = batch.installation_id
  const actor: AuditActor = { kind: 'user', githubId: job.actor.id, login: job.actor.login }
  const target = { ownerId: batch.owner_id, ownerLogin: batch.owner_login, installationId }
  const user = await db.selectFrom('legacy.oauth_users').select('oauth_token').where('github_user_id', '=', batch.user_id).executeTakeFirst()
  const token = user?.oauth_token ?? null
  let refused: string | undefined = token === null ? 'The legacy OAuth token was revoked.' : undefined
  let added = 0
  for (const repo of batch.repos.filter((r) => r.add_state === 'pending')) {
    if (refused !== undefined) break
    let attempt: Attempt
    try {
      await github.asUser(token!).request('PUT /user/installations/{installation_id}/repositories/{repository_id}', { installation_id: installationId, repository_id: repo.repo_id })
      attempt = { kind: 'added' }
    } catch (error) {
      attempt = judge(error)
    }
    if (attempt.kind === 'refused') {
      refused = attempt.reason
      break
    }
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('app.batch_repo')
        .set({ add_state: attempt.kind === 'added' ? 'added' : 'failed', add_reason: attempt.kind === 'failed' ? attempt.reason : null })
        .where('batch_id', '=', batch.id)
        .where('repo_id', '=', repo.repo_id)
        .execute()
      await appendAudit(trx, {
        actor,
        action: 'repo_added',
        target: { ...target, repoId: repo.repo_id, repoName: repo.repo_name },
        outcome: attempt.kind === 'added' ? 'ok' : 'failed',
        ...(attempt.kind === 'failed' ? { reason: attempt.reason } : {}),
        requestId: job.requestId,
        detail: { path: 'api' },
      })
    })
    if (attempt.kind === 'added') added += 1
  }
  await db.transaction().execute(async (trx) => {
    const path = refused === undefined ? 'api' : 'settings_page'
    await trx.updateTable('app.batch').set({ adding: false, add_path: path, updated_at: sql<Date>`now()` }).where('id', '=', batch.id).execute()
    if (refused !== undefined) {
      // What is left is the user's to tick on GitHub's settings page.
      await trx.updateTable('app.batch_repo').set({ add_state: null }).where('batch_id', '=', batch.id).where('add_state', '=', 'pending').execute()
    }
    await appendAudit(trx, {
      actor,
      action: 'repos_add_finished',
      target,
      outcome: refused === undefined ? 'ok' : 'fallback_settings_page',
      ...(refused === undefined ? {} : { reason: refused }),
      requestId: job.requestId,
      detail: { path, added },
    })
  })
  await checkCoverage(db, github, batch.owner_id, { actor, requestId: job.requestId })
}
