import type { FastifyRequest } from 'fastify'
import type { Repo, SimState } from '../state.js'
import { idParam, originOf } from './context.js'
import { MovedPermanently, notFound } from './errors.js'
import { requireSso } from './sso.js'

// The repository a path names, as /repos/{owner}/{repo}/... or /repositories/{id}/...: a renamed
// or transferred repository answers 301 to its /repositories/{id} form, as GitHub does, but only
// to a caller allowed to see it; everyone else gets 404. A repository SAML SSO keeps the caller's
// legacy token out of answers 403 with the X-GitHub-SSO url.

export function repoFromParams(request: FastifyRequest, state: SimState, visible: (repo: Repo) => boolean): Repo {
  const params = request.params as { owner?: string; repo?: string }
  if (params.owner === undefined || params.repo === undefined) {
    const repo = state.liveRepo(idParam(request, 'repository_id'))
    if (repo === undefined || !visible(repo)) throw notFound()
    requireSso(request, state, request.ghAuth, repo.ownerId)
    return repo
  }
  const repo = state.repoByName(params.owner, params.repo)
  if (repo !== undefined) {
    if (!visible(repo)) throw notFound()
    requireSso(request, state, request.ghAuth, repo.ownerId)
    return repo
  }
  const moved = state.redirectFor(params.owner, params.repo)
  if (moved === undefined || !visible(moved)) throw notFound()
  const [path, query] = request.url.split('?') as [string, string | undefined]
  // /api/v3/repos/{owner}/{repo}/rest...
  const rest = path.split('/').slice(6).join('/')
  throw new MovedPermanently(`${originOf(request).api}/repositories/${moved.id}${rest === '' ? '' : `/${rest}`}${query === undefined ? '' : `?${query}`}`)
}
