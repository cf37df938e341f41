import type { FastifyPluginAsync } from 'fastify'
import type { GitHubClients } from '../github/clients.js'
import { readState, type StateKey } from '../migration/install-state.js'
import type { RefusalKind } from '../migration/refusals.js'
import { findLink, linkStanding } from '../migration/setup-link.js'
import { recordRequest } from '../migration/setup.js'
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
  /** A list when the link names it twice. */
  state?: string | string[]
}

const ACTIONS = new Set(['install', 'update', 'request'])

function positiveId(param: string | undefined): number | undefined {
  const id = Number(param)
  return Number.isSafeInteger(id) && id > 0 ? id : undefined
}

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
    const installationId = positiveId(installationParam)
    const reject = async (kind: RefusalKind, status: number, reason: string, target: { ownerId?: number; ownerLogin?: string }): Promise<never> => {
      await refuse(kind, {
        actor: viewer === undefined ? { kind: 'user' } : { kind: 'user', githubId: viewer.id, login: viewer.login },
        action: 'installation_rejected',
        target: { ...target, ...(installationId === undefined ? {} : { installationId }) },
        outcome: 'rejected',
        reason,
        requestId: request.id,
        detail: { setupAction: action },
      })
      throw new HttpError(status, reason)
    }
    // Named twice: no link this service makes does that.
    const read = typeof state === 'string' ? readState(stateKey, state) : ({ ok: false, reason: 'forged' } as const)
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
    const link = await findLink(app.db, payload.nonce)
    const target = { ownerId: payload.ownerId, ...(link === undefined ? {} : { ownerLogin: link.batch.owner_login }) }
    // A request has no installation to tell a reload from a replay by: its claim does.
    const standing = linkStanding(link, payload, viewer, action === 'request' ? undefined : installationId, 'session')
    if (standing.kind === 'refused') return reject(standing.refusal, standing.status, standing.reason, target)

    if (action === 'request') {
      if (viewer === undefined) return reject('signed_out', 401, 'Your session has ended. Sign in again: your migration page shows whether your request reached GitHub.', target)
      const recorded = await recordRequest(app.db, github, viewer, standing.link, request.id)
      if (recorded.kind === 'refused') return reject(recorded.refusal, recorded.status, recorded.reason, target)
      return reply.redirect(`/migrate#owner-${recorded.ownerLogin}`, 303)
    }
    if (installationId === undefined) return reject('no_installation_id', 400, 'GitHub sent no valid installation id. Start again from your migration page.', target)
    // Open, or used by this same installation (a reload, a second tab, a double click): GitHub's
    // list of the user's installations still decides who may.
    return authorizeOnGitHub(request, reply, github, publicUrl, { ...payload, installationId, setupAction: action as 'install' | 'update' })
  })
}
