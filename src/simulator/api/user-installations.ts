import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { paginate } from '../pagination.js'
import { installation as installationJson, JSON_TYPE, repositoriesJson } from '../serialize.js'
import { atLeast, type Installation } from '../state.js'
import { callerOf, idParam, originOf } from './context.js'
import { ApiError, notAccessibleByIntegration, notFound, requiresAuthentication, validationFailed } from './errors.js'
import { requireSso } from './sso.js'
import { callerPermission, sortedInstallationRepos, userCanAccessInstallation, type ApiAuth } from './access.js'

// The installations a signed-in user can reach: GET /user/installations and its repositories
// (GitHub App user tokens), and adding or removing one repository (classic tokens).

const APP_TOKEN_ONLY = 'You must authenticate with an access token authorized to a GitHub App in order to list installations'

/** The endpoints that list take a GitHub App user token and nothing else. */
function appUser(auth: ApiAuth) {
  if (auth.kind === 'user') return auth
  if (auth.kind === 'none') throw requiresAuthentication()
  if (auth.kind === 'installation') throw notAccessibleByIntegration()
  throw new ApiError(403, APP_TOKEN_ONLY)
}

export const userInstallationRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim

  function reachable(request: FastifyRequest, userId: number): Installation {
    const installation = state.installations.get(idParam(request, 'installation_id'))
    if (installation === undefined || !userCanAccessInstallation(state, state.users.get(userId)!, installation)) throw notFound()
    return installation
  }

  app.get('/user/installations', async (request, reply) => {
    const auth = appUser(callerOf(request))
    const origin = originOf(request)
    const list = state.memoized(`user-installations:${auth.user.id}`, () =>
      [...state.installations.values()].filter((i) => userCanAccessInstallation(state, auth.user, i)).sort((a, b) => a.id - b.id),
    )
    const page = paginate(request, reply, origin.web, list)
    return { total_count: list.length, installations: page.map((i) => installationJson(origin, state, i)) }
  })

  app.get('/user/installations/:installation_id/repositories', async (request, reply) => {
    const auth = appUser(callerOf(request))
    const installation = reachable(request, auth.user.id)
    const origin = originOf(request)
    const key = `user-installation-repos:${installation.id}:${auth.user.id}:${installation.repositorySelection}:${installation.repositoryIds.size}`
    const list = state.memoized(key, () =>
      sortedInstallationRepos(state, installation)
        .map((repo) => ({ repo, permission: state.permission(auth.user.id, repo) }))
        .filter(({ permission }) => atLeast(permission, 'read')),
    )
    const page = paginate(request, reply, origin.web, list)
    const before = `{"total_count":${list.length},"repository_selection":${JSON.stringify(installation.repositorySelection)},"repositories":`
    return reply.type(JSON_TYPE).send(repositoriesJson(origin, state, page, before, '}'))
  })

  /**
   * GitHub documents these for classic personal access tokens with the `repo` scope; whether an
   * OAuth App's token (the same kind of token) is taken too is the world's setting.
   */
  async function change(request: FastifyRequest, action: 'added' | 'removed'): Promise<void> {
    const auth = callerOf(request)
    if (auth.kind === 'none') throw requiresAuthentication()
    if (auth.kind !== 'legacy') throw notAccessibleByIntegration()
    if (!state.legacyTokensMayAddRepos) throw new ApiError(403, 'Resource not accessible by OAuth app')
    const installation = reachable(request, auth.user.id)
    requireSso(request, state, auth, installation.accountId)
    const repo = state.liveRepo(idParam(request, 'repository_id'))
    if (repo === undefined || repo.ownerId !== installation.accountId || callerPermission(state, auth, repo) === 'none') throw notFound()
    if (callerPermission(state, auth, repo) !== 'admin') throw new ApiError(403, 'Must have admin rights to Repository.')
    if (action === 'removed' && installation.repositorySelection === 'all') {
      throw validationFailed("Repositories cannot be removed from an installation with access to all repositories.")
    }
    if (installation.repositorySelection === 'all' || installation.repositoryIds.has(repo.id) === (action === 'added')) return
    if (action === 'added') installation.repositoryIds.add(repo.id)
    else installation.repositoryIds.delete(repo.id)
    installation.updatedAt = new Date()
    state.touch()
    state.onEvent({
      name: 'installation_repositories',
      action,
      installation,
      added: action === 'added' ? [repo] : [],
      removed: action === 'removed' ? [repo] : [],
      sender: auth.user,
    })
  }

  app.put('/user/installations/:installation_id/repositories/:repository_id', async (request, reply) => {
    await change(request, 'added')
    return reply.code(204).send()
  })

  app.delete('/user/installations/:installation_id/repositories/:repository_id', async (request, reply) => {
    await change(request, 'removed')
    return reply.code(204).send()
  })
}
