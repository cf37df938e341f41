import type { FastifyPluginAsync } from 'fastify'
import { sql } from 'kysely'
import type { GitHubClients } from '../github/clients.js'
import { orgOwners } from '../migration/approvers.js'
import { appendAudit } from '../migration/audit.js'
import { requestPending } from '../migration/batch-state.js'
import type { RefusalKind } from '../migration/refusals.js'
import { claimState, readState, type StateKey } from '../migration/install-state.js'
import { HttpError } from '../plugins/error-handler.js'
import { authorizeOnGitHub, viewerOf } from './auth.js'

// GET /github/setup, the App's setup URL: where GitHub sends the browser after an install, an
// update, or a request to an org's owners. Nothing in the query is believed as it comes: the
// state must be one this service signed and has not seen used, and an installation id is
// checked with the user's own token (through a quick authorization on GitHub) before
// anything is recorded. Without a state (an org owner approving a request later, maybe with
// no session here), the page only confirms: the signed webhook does the work.

export interface SetupRoutesOptions {
  github: GitHubClients
  stateKey: StateKey
  publicUrl: string
}

interface SetupQuery {
  installation_id?: string
  setup_action?: string
  state?: string
}

const ACTIONS = new Set(['install', 'update', 'request'])

export const setupRoutes: FastifyPluginAsync<SetupRoutesOptions> = async (app, { github, stateKey, publicUrl }) => {
  app.get<{ Querystring: SetupQuery }>('/github/setup', { config: { rateLimit: {} } }, async (request, reply) => {
    const { installation_id: installationParam, setup_action: action, state } = request.query
    if (action === undefined || !ACTIONS.has(action)) {
      throw new HttpError(400, 'This page is where GitHub sends you after installing the App; this link does not say what happened on GitHub.')
    }
    if (state === undefined || state === '') {
      return reply.view('setup-received.eta', { title: action === 'request' ? 'Request sent' : 'Installation received', action, signedIn: viewerOf(request) !== undefined })
    }
    const viewer = viewerOf(request)
    /**
     * Every refusal is on the record, counted per client so a flood cannot grow the log without
     * bound (never the state itself: it is as good as a password until used).
     */
    const refuse = app.refusalsOf(request)
    const reject = async (kind: RefusalKind, status: number, reason: string, target: { ownerId?: number; ownerLogin?: string }): Promise<never> => {
      const installationId = Number(installationParam)
      await refuse(kind, {
        actor: viewer === undefined ? { kind: 'user' } : { kind: 'user', githubId: viewer.id, login: viewer.login },
        action: 'installation_rejected',
        target: { ...target, ...(Number.isSafeInteger(installationId) && installationId > 0 ? { installationId } : {}) },
        outcome: 'rejected',
        reason,
        requestId: request.id,
        detail: { setupAction: action },
      })
      throw new HttpError(status, reason)
    }
    const read = readState(stateKey, state)
    if (!read.ok) {
      const expired = read.reason === 'expired'
      return reject(
        expired ? 'expired_link' : 'unknown_link',
        400,
        expired
          ? 'This installation link has expired. Start again from your migration page.'
          : 'This installation link was not made by this service. Start again from your migration page.',
        {},
      )
    }
    const { payload } = read
    const row = await app.db
      .selectFrom('app.install_state as s')
      .innerJoin('app.batch as b', 'b.id', 's.batch_id')
      .select(['s.used_at', 'b.id as batch_id', 'b.owner_login', 'b.installation_id'])
      .where('s.nonce', '=', payload.nonce)
      .executeTakeFirst()
    if (row === undefined) {
      return reject('replanned', 409, 'This installation link belongs to a plan that was made again since. Start again from your migration page.', { ownerId: payload.ownerId })
    }
    const target = { ownerId: payload.ownerId, ownerLogin: row.owner_login }
    if (viewer !== undefined && viewer.id !== payload.userId) {
      return reject('other_account', 403, `You are signed in as ${viewer.login}, but this installation was started by another account. Sign out, and sign in as that account.`, target)
    }
    const usedAgain = 'This installation link was already used. Your migration page shows where things stand.'

    if (action === 'request') {
      if (viewer === undefined) return reject('signed_out', 401, 'Your session has ended. Sign in again: your migration page shows whether your request reached GitHub.', target)
      const approvers = await orgOwners(app.db, github, viewer.id, row.owner_login)
      const recorded = await app.db.transaction().execute(async (trx) => {
        if (!(await claimState(trx, payload.nonce))) return false
        await requestPending(trx, row.batch_id, approvers)
        await appendAudit(trx, {
          actor: { kind: 'user', githubId: viewer.id, login: viewer.login },
          action: 'request_pending',
          target,
          outcome: 'ok',
          reason: `waiting for an owner of ${row.owner_login} to approve`,
          detail: { approvers },
          requestId: request.id,
        })
        return true
      })
      if (!recorded) return reject('used_link', 409, usedAgain, target)
      return reply.redirect(`/migrate#owner-${row.owner_login}`, 303)
    }

    const installationId = Number(installationParam)
    if (!Number.isSafeInteger(installationId) || installationId <= 0) return reject('no_installation_id', 400, 'GitHub sent no valid installation id. Start again from your migration page.', target)
    // Used already: a reload, a second tab or a double click of the same install goes on to
    // land where the first did (the check on GitHub still decides who may); anything else is a replay.
    if (row.used_at !== null && row.installation_id !== installationId) return reject('used_link', 409, usedAgain, target)
    return authorizeOnGitHub(request, reply, github, publicUrl, { ...payload, installationId, setupAction: action as 'install' | 'update' })
  })
}
