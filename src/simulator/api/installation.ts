import type { FastifyPluginAsync } from 'fastify'
import { paginate } from '../pagination.js'
import { JSON_TYPE, repositoriesJson } from '../serialize.js'
import type { Repo } from '../state.js'
import { callerPermission, sortedInstallationRepos } from './access.js'
import { callerOf, originOf } from './context.js'
import { ApiError, requiresAuthentication } from './errors.js'

// The installation itself, with its installation access token: GET /installation/repositories.

export const installationRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim

  app.get('/installation/repositories', async (request, reply) => {
    const auth = callerOf(request)
    if (auth.kind === 'none') throw requiresAuthentication()
    if (auth.kind !== 'installation') {
      throw new ApiError(403, 'You must authenticate with an installation access token in order to list repositories for an installation.')
    }
    const { installation, grant } = auth
    let list: Repo[]
    if (grant.repositoryIds === undefined) {
      list = sortedInstallationRepos(state, installation)
    } else {
      list = []
      for (const id of grant.repositoryIds) {
        const repo = state.liveRepo(id)
        if (repo !== undefined && state.covers(installation, repo)) list.push(repo)
      }
      list.sort((a, b) => a.id - b.id)
    }
    const origin = originOf(request)
    const page = paginate(request, reply, origin.web, list)
    const selection = grant.repositoryIds === undefined ? installation.repositorySelection : 'selected'
    const before = `{"total_count":${list.length},"repository_selection":${JSON.stringify(selection)},"repositories":`
    return reply.type(JSON_TYPE).send(repositoriesJson(origin, state, page.map((repo) => ({ repo, permission: callerPermission(state, auth, repo) })), before, '}'))
  })
}
