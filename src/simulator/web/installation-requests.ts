import type { FastifyPluginAsync } from 'fastify'
import { approveRequest } from '../install-events.js'
import type { InstallationRequest, Org, SimState } from '../state.js'
import { fields, text, withQuery } from './form.js'
import { errorPage, formExpired, page } from './render.js'
import { csrfToken, csrfValid, signedInUser } from './session.js'
import { ownedOrg, settingsNotFound, settingsPath, signInFirst } from './settings-access.js'

// An organization's GitHub Apps settings, as its owners see them on GitHub: the pending
// installation requests of its members, each approved or denied here, and the app's current
// installation. Approving is asynchronous for the member who asked: the owner, not the
// requester, goes to the app's setup URL, and GitHub sends no `state` (the owner never
// started the app's flow).

interface Listed {
  id: number
  requester: string
  selection: InstallationRequest['repositorySelection']
  /** The requested repositories that still exist on the org, by full name. */
  repos: string[]
}

/** The org's pending requests, oldest first (the order they were made in). */
function pendingOn(state: SimState, org: Org): Listed[] {
  return [...state.requests.values()]
    .filter((pending) => pending.accountId === org.id)
    .map((pending) => ({
      id: pending.id,
      requester: state.users.get(pending.requesterId)!.login,
      selection: pending.repositorySelection,
      repos: pending.repositoryIds
        .map((id) => state.liveRepo(id))
        .filter((repo) => repo?.ownerId === org.id)
        .map((repo) => state.fullName(repo!)),
    }))
}

export const installationRequestRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim
  const appName = state.app.name ?? state.app.slug
  const listPath = (org: Org): string => `/organizations/${encodeURIComponent(org.login)}/settings/installations`

  app.get<{ Params: { org: string } }>('/organizations/:org/settings/installations', async (request, reply) => {
    const viewer = signedInUser(request, state)
    if (viewer === undefined) return signInFirst(reply, request.url)
    const org = ownedOrg(state, viewer, request.params.org)
    if (org === undefined) return settingsNotFound(reply, viewer)
    const installation = state.installationOn(org.id)
    return page(reply, 'installation-requests.eta', {
      title: `${org.login} · GitHub Apps`,
      viewer,
      appName,
      org,
      listPath: listPath(org),
      requests: pendingOn(state, org),
      installation: installation && {
        id: installation.id,
        selection: installation.repositorySelection,
        repoCount: state.installationRepos(installation).length,
        path: settingsPath(state, installation),
      },
      csrf: csrfToken(request, reply),
    })
  })

  app.post<{ Params: { org: string; request_id: string } }>('/organizations/:org/settings/installations/requests/:request_id', async (request, reply) => {
    const viewer = signedInUser(request, state)
    if (viewer === undefined) return signInFirst(reply, `/organizations/${encodeURIComponent(request.params.org)}/settings/installations`)
    const body = fields(request.body)
    if (!csrfValid(request, text(body, '_csrf'))) return formExpired(reply, viewer)
    const org = ownedOrg(state, viewer, request.params.org)
    const pending = state.requests.get(Number(request.params.request_id))
    // Approved or denied by another owner meanwhile, or a request for another org.
    if (org === undefined || pending?.accountId !== org.id) return settingsNotFound(reply, viewer)
    const decision = text(body, 'decision')
    if (decision === 'deny') {
      state.requests.delete(pending.id)
      return reply.redirect(listPath(org), 303)
    }
    if (decision !== 'approve') return errorPage(reply, 422, 'Approve or deny', 'Choose Approve & install or Deny.', viewer)
    const { installation, action } = approveRequest(state, pending, viewer)
    if (state.app.setup_url === undefined) return page(reply, 'install-done.eta', { title: 'Installed', viewer, appName, target: { account: org }, requested: false })
    return reply.redirect(withQuery(state.app.setup_url, { installation_id: String(installation.id), setup_action: action }), 302)
  })
}
