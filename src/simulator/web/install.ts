import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { installWithEvents } from '../install-events.js'
import type { InstallationRequest, SimState, User } from '../state.js'
import { fields, text, texts, withQuery, type Fields } from './form.js'
import { MAX_REPOSITORY_IDS, selectedIds, targetFrom, targetsOf, type Target } from './install-target.js'
import { errorPage, formExpired, page } from './render.js'
import { csrfToken, csrfValid, signedInUser } from './session.js'

// The app's public page and its installation pages: choose the account, choose the
// repositories, then Install (an owner) or Request (an organization member), and go back to
// the app's setup URL as GitHub does.

const TOO_MANY = `Too many repositories selected (max ${MAX_REPOSITORY_IDS}). Select fewer repositories, or choose All repositories.`

/** The link parameters GitHub keeps while the user picks an account. */
function carried(params: Fields): string {
  const out = new URLSearchParams()
  const state = text(params, 'state')
  if (state !== undefined) out.set('state', state)
  for (const id of texts(params, 'repository_ids[]', 'repository_ids')) out.append('repository_ids[]', id)
  return out.toString()
}

function requestInstallation(state: SimState, viewer: User, target: Target, selection: 'all' | 'selected', ids: number[]): InstallationRequest {
  // One pending request per requester and account: asking again replaces the earlier one.
  const earlier = [...state.requests.values()].find((r) => r.accountId === target.account.id && r.requesterId === viewer.id)
  const pending: InstallationRequest = {
    id: earlier?.id ?? state.newId(),
    accountId: target.account.id,
    requesterId: viewer.id,
    repositorySelection: selection,
    repositoryIds: ids,
    createdAt: new Date(),
  }
  state.requests.set(pending.id, pending)
  return pending
}

export const installRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim
  const appName = state.app.name ?? state.app.slug
  const base = `/apps/${state.app.slug}`

  const unknownApp = (reply: FastifyReply, viewer: User | undefined): FastifyReply =>
    errorPage(reply, 404, 'Not found', 'There is no GitHub App with this name.', viewer)

  const signInFirst = (reply: FastifyReply, returnTo: string): FastifyReply =>
    reply.redirect(`/login?${new URLSearchParams({ return_to: returnTo }).toString()}`, 303)

  const chooser = (reply: FastifyReply, viewer: User, params: Fields, notice?: string): FastifyReply =>
    page(reply, 'install-targets.eta', {
      title: `Install ${appName}`,
      viewer,
      appName,
      base,
      notice,
      targets: targetsOf(state, viewer),
      carried: carried(params),
    })

  app.get<{ Params: { slug: string } }>('/apps/:slug', async (request, reply) => {
    const viewer = signedInUser(request, state)
    if (request.params.slug !== state.app.slug) return unknownApp(reply, viewer)
    return page(reply, 'app.eta', { title: appName, viewer, appName, base, permissions: Object.entries(state.app.permissions) })
  })

  app.get<{ Params: { slug: string } }>('/apps/:slug/installations/new', async (request, reply) => {
    const viewer = signedInUser(request, state)
    if (request.params.slug !== state.app.slug) return unknownApp(reply, viewer)
    if (viewer === undefined) return signInFirst(reply, request.url)
    return chooser(reply, viewer, fields(request.query))
  })

  app.get<{ Params: { slug: string } }>('/apps/:slug/installations/new/permissions', async (request, reply) => {
    const viewer = signedInUser(request, state)
    if (request.params.slug !== state.app.slug) return unknownApp(reply, viewer)
    if (viewer === undefined) return signInFirst(reply, request.url)
    const params = fields(request.query)
    const target = targetFrom(state, viewer, params)
    if (target === undefined) return chooser(reply, viewer, params, `Choose where to install ${appName}.`)
    const selected = selectedIds(params, target)
    if (selected === 'too-many') return errorPage(reply, 422, 'Too many repositories', TOO_MANY, viewer)
    // A link without ids shows what the installation covers now.
    let selection: 'all' | 'selected' = 'all'
    let checked = new Set(selected.ids)
    if (selected.given) selection = 'selected'
    else if (target.installation !== undefined) {
      selection = target.installation.repositorySelection
      checked = new Set(state.installationRepos(target.installation).map((repo) => repo.id))
    }
    return page(reply, 'install-permissions.eta', {
      title: `Install ${appName}`,
      viewer,
      appName,
      base,
      target,
      selection,
      repos: target.repos.map((repo) => ({ id: repo.id, name: repo.name, private: repo.private, checked: checked.has(repo.id) })),
      permissions: Object.entries(state.app.permissions),
      setupState: text(params, 'state'),
      csrf: csrfToken(request, reply),
    })
  })

  app.post<{ Params: { slug: string } }>('/apps/:slug/installations/new/permissions', async (request, reply) => {
    const viewer = signedInUser(request, state)
    if (request.params.slug !== state.app.slug) return unknownApp(reply, viewer)
    if (viewer === undefined) return signInFirst(reply, `${base}/installations/new`)
    const body = fields(request.body)
    if (!csrfValid(request, text(body, '_csrf'))) return formExpired(reply, viewer)
    const target = targetFrom(state, viewer, body)
    if (target === undefined) return errorPage(reply, 404, 'Not found', `You cannot install ${appName} on this account.`, viewer)
    const selection = text(body, 'repository_selection')
    if (selection !== 'all' && selection !== 'selected') return errorPage(reply, 422, 'Choose repositories', 'Choose All repositories or Only select repositories.', viewer)
    const selected = selectedIds(body, target)
    if (selected === 'too-many') return errorPage(reply, 422, 'Too many repositories', TOO_MANY, viewer)
    if (selection === 'selected' && selected.ids.length === 0) {
      return errorPage(reply, 422, 'Choose repositories', 'Select at least one repository, or choose All repositories.', viewer)
    }
    const setupState = text(body, 'state')
    if (target.relation === 'member') {
      requestInstallation(state, viewer, target, selection, selected.ids)
      if (state.app.setup_url === undefined) return page(reply, 'install-done.eta', { title: 'Request sent', viewer, appName, target, requested: true })
      return reply.redirect(withQuery(state.app.setup_url, { setup_action: 'request', state: setupState }), 302)
    }
    const { installation, action } = installWithEvents(state, target.account.id, selection, selected.ids, viewer)
    if (state.app.setup_url === undefined) return page(reply, 'install-done.eta', { title: 'Installed', viewer, appName, target, requested: false })
    return reply.redirect(withQuery(state.app.setup_url, { installation_id: String(installation.id), setup_action: action, state: setupState }), 302)
  })
}
