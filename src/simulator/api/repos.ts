import type { FastifyPluginAsync } from 'fastify'
import { fullRepository } from '../serialize.js'
import { callerPermission } from './access.js'
import { callerOf, originOf } from './context.js'
import { repoFromParams } from './repo-lookup.js'

// One repository: GET /repos/{owner}/{repo} and GET /repositories/{id}.

export const repoRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim

  for (const path of ['/repos/:owner/:repo', '/repositories/:repository_id']) {
    app.get(path, async (request) => {
      const auth = callerOf(request)
      const repo = repoFromParams(request, state, (r) => callerPermission(state, auth, r) !== 'none')
      const permission = auth.kind === 'none' ? undefined : callerPermission(state, auth, repo)
      return fullRepository(originOf(request), state, repo, permission)
    })
  }
}
