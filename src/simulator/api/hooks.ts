import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { paginate } from '../pagination.js'
import { orgHook, repoHook } from '../serialize.js'
import type { Hook, Org, Repo } from '../state.js'
import { callerPermission, orgHookVisible, requireOrgHookAccess, requireRepoHookAccess } from './access.js'
import { callerOf, idParam, originOf } from './context.js'
import { ApiError, notFound } from './errors.js'
import { repoFromParams } from './repo-lookup.js'
import { requireSso } from './sso.js'

// Repository and organization webhooks: list, read, delete.

function byId(a: Hook, b: Hook): number {
  return a.id - b.id
}

export const hookRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim

  function repoFor(request: FastifyRequest, write: boolean): Repo {
    const auth = callerOf(request)
    const repo = repoFromParams(request, state, (r) => auth.kind === 'none' || callerPermission(state, auth, r) !== 'none')
    requireRepoHookAccess(state, auth, repo, write)
    return repo
  }

  function repoHookFor(request: FastifyRequest, write: boolean): { repo: Repo; hook: Hook } {
    const repo = repoFor(request, write)
    const hook = repo.hooks.get(idParam(request, 'hook_id'))
    if (hook === undefined) throw notFound()
    return { repo, hook }
  }

  for (const base of ['/repos/:owner/:repo', '/repositories/:repository_id']) {
    app.get(`${base}/hooks`, async (request, reply) => {
      const repo = repoFor(request, false)
      const origin = originOf(request)
      const hooks = [...repo.hooks.values()].sort(byId)
      return paginate(request, reply, origin.web, hooks).map((hook) => repoHook(origin, state, repo, hook))
    })

    app.get(`${base}/hooks/:hook_id`, async (request) => {
      const { repo, hook } = repoHookFor(request, false)
      return repoHook(originOf(request), state, repo, hook)
    })

    app.delete(`${base}/hooks/:hook_id`, async (request, reply) => {
      const { repo, hook } = repoHookFor(request, true)
      if (repo.archived) throw new ApiError(403, 'Repository was archived so is read-only.')
      repo.hooks.delete(hook.id)
      return reply.code(204).send()
    })
  }

  function orgFor(request: FastifyRequest, write: boolean): Org {
    const account = state.accountByLogin((request.params as { org: string }).org)
    if (account?.type !== 'Organization') throw notFound()
    requireSso(request, state, request.ghAuth, account.id)
    requireOrgHookAccess(state, callerOf(request), account, write)
    return account
  }

  function orgHookFor(request: FastifyRequest, write: boolean): { org: Org; hook: Hook } {
    const org = orgFor(request, write)
    const hook = org.hooks.get(idParam(request, 'hook_id'))
    if (hook === undefined || !orgHookVisible(callerOf(request), hook.createdBy)) throw notFound()
    return { org, hook }
  }

  app.get('/orgs/:org/hooks', async (request, reply) => {
    const org = orgFor(request, false)
    const auth = callerOf(request)
    const origin = originOf(request)
    const hooks = [...org.hooks.values()].filter((hook) => orgHookVisible(auth, hook.createdBy)).sort(byId)
    return paginate(request, reply, origin.web, hooks).map((hook) => orgHook(origin, org, hook))
  })

  app.get('/orgs/:org/hooks/:hook_id', async (request) => {
    const { org, hook } = orgHookFor(request, false)
    return orgHook(originOf(request), org, hook)
  })

  app.delete('/orgs/:org/hooks/:hook_id', async (request, reply) => {
    const { org, hook } = orgHookFor(request, true)
    org.hooks.delete(hook.id)
    return reply.code(204).send()
  })
}
