import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { installWithEvents } from '../install-events.js'
import type { Installation, Org, SimState, User } from '../state.js'
import { fields, text, withQuery } from './form.js'
import { MAX_REPOSITORY_IDS, selectedIds, target, type Target } from './install-target.js'
import { errorPage, formExpired, page } from './render.js'
import { csrfToken, csrfValid, signedInUser } from './session.js'
import { settingsNotFound, settingsPath, signInFirst } from './settings-access.js'

// An installation's settings page, where GitHub has it: /settings/installations/{id} for the
// signed-in user's own account, /organizations/{org}/settings/installations/{id} for an org
// (its owners only). It shows and changes which repositories the installation covers; a link
// may name repositories to add (`repository_ids[]`), as the migration wizard's links do, and
// Save goes back to the app's setup URL with setup_action=update, as GitHub does.

const TOO_MANY = `Too many repositories selected (max ${MAX_REPOSITORY_IDS}). Select fewer repositories, or choose All repositories.`

interface Configurable extends Target {
  installation: Installation
}

/** The installation with this id on the account, when the viewer owns the account. */
function configurable(state: SimState, viewer: User, account: User | Org | undefined, rawId: string): Configurable | undefined {
  const found = target(state, viewer, account)
  if (found === undefined || found.relation !== 'owner' || found.installation?.id !== Number(rawId)) return undefined
  return { ...found, installation: found.installation }
}

export const installationSettingsRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim
  const appName = state.app.name ?? state.app.slug

  type Params = { installation_id: string; org?: string }
  /** The account a route's URL names: the viewer, or the org in the path. */
  const accountOf = (viewer: User, params: Params): User | Org | undefined => {
    if (params.org === undefined) return viewer
    const account = state.accountByLogin(params.org)
    return account?.type === 'Organization' ? account : undefined
  }

  const show = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<FastifyReply> => {
    const viewer = signedInUser(request, state)
    if (viewer === undefined) return signInFirst(reply, request.url)
    const found = configurable(state, viewer, accountOf(viewer, request.params), request.params.installation_id)
    if (found === undefined) return settingsNotFound(reply, viewer)
    const wanted = selectedIds(fields(request.query), found)
    if (wanted === 'too-many') return errorPage(reply, 422, 'Too many repositories', TOO_MANY, viewer)
    const covered = new Set(state.installationRepos(found.installation).map((repo) => repo.id))
    // The link's repositories are ticked on top of what is covered; Save adds them.
    const adding = found.repos.filter((repo) => wanted.ids.includes(repo.id) && !covered.has(repo.id))
    const checked = new Set([...covered, ...wanted.ids])
    return page(reply, 'installation-settings.eta', {
      title: `Configure ${appName}`,
      viewer,
      appName,
      target: found,
      action: settingsPath(state, found.installation),
      selection: found.installation.repositorySelection,
      repos: found.repos.map((repo) => ({ id: repo.id, name: repo.name, private: repo.private, checked: checked.has(repo.id) })),
      adding: adding.map((repo) => state.fullName(repo)),
      csrf: csrfToken(request, reply),
    })
  }

  const save = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<FastifyReply> => {
    const viewer = signedInUser(request, state)
    if (viewer === undefined) return signInFirst(reply, request.url)
    const body = fields(request.body)
    if (!csrfValid(request, text(body, '_csrf'))) return formExpired(reply, viewer)
    const found = configurable(state, viewer, accountOf(viewer, request.params), request.params.installation_id)
    if (found === undefined) return settingsNotFound(reply, viewer)
    const selection = text(body, 'repository_selection')
    if (selection !== 'all' && selection !== 'selected') return errorPage(reply, 422, 'Choose repositories', 'Choose All repositories or Only select repositories.', viewer)
    const selected = selectedIds(body, found)
    if (selected === 'too-many') return errorPage(reply, 422, 'Too many repositories', TOO_MANY, viewer)
    if (selection === 'selected' && selected.ids.length === 0) {
      return errorPage(reply, 422, 'Choose repositories', 'Select at least one repository, or choose All repositories.', viewer)
    }
    const { installation } = installWithEvents(state, found.account.id, selection, selected.ids, viewer)
    if (state.app.setup_url === undefined) return page(reply, 'install-done.eta', { title: 'Saved', viewer, appName, target: found, saved: true })
    // No state: GitHub has none to send back for a change made on its own settings page.
    return reply.redirect(withQuery(state.app.setup_url, { installation_id: String(installation.id), setup_action: 'update' }), 302)
  }

  app.get('/settings/installations/:installation_id', show)
  app.post('/settings/installations/:installation_id', save)
  app.get('/organizations/:org/settings/installations/:installation_id', show)
  app.post('/organizations/:org/settings/installations/:installation_id', save)
}
