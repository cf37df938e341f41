import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { paginate } from '../pagination.js'
import { installation as installationJson, integration, isoDate, repository } from '../serialize.js'
import { atLeast, newToken, type Installation, type Repo } from '../state.js'
import type { Permission } from '../world.js'
import { idParam, originOf } from './context.js'
import { ApiError, notFound, validationFailed } from './errors.js'
import { repoFromParams } from './repo-lookup.js'

// What the GitHub App does as itself, with its JWT: read itself and its installations, find
// the installation on an account or repository, and create installation access tokens.

const TOKEN_LIFETIME_MS = 3600_000
const NOT_ACCESSIBLE_REPO = 'There is at least one repository that does not exist or is not accessible to the parent installation.'
const NOT_GRANTED = 'The permissions requested are not granted to this installation.'

interface TokenRequest {
  repositories?: unknown
  repository_ids?: unknown
  permissions?: unknown
}

const jwtOnly = { config: { jwt: true } }

export const appRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim
  const createdAt = new Date()

  function installationParam(request: FastifyRequest): Installation {
    const installation = state.installations.get(idParam(request, 'installation_id'))
    if (installation === undefined) throw notFound()
    return installation
  }

  /** The repositories a token request names, each covered by the installation. */
  function narrowedRepos(installation: Installation, body: TokenRequest): Repo[] | undefined {
    const { repositories: names, repository_ids: ids } = body
    if (names === undefined && ids === undefined) return undefined
    const okList = (list: unknown, type: 'string' | 'number') => list === undefined || (Array.isArray(list) && list.every((x) => typeof x === type))
    if (!okList(names, 'string') || !okList(ids, 'number')) throw validationFailed('Invalid request: repositories must be names and repository_ids numbers.')
    const login = state.accountById(installation.accountId)!.login
    const found = new Map<number, Repo>()
    for (const name of (names ?? []) as string[]) {
      const repo = state.repoByName(login, name)
      if (repo === undefined || !state.covers(installation, repo)) throw validationFailed(NOT_ACCESSIBLE_REPO)
      found.set(repo.id, repo)
    }
    for (const id of (ids ?? []) as number[]) {
      const repo = state.liveRepo(id)
      if (repo === undefined || !state.covers(installation, repo)) throw validationFailed(NOT_ACCESSIBLE_REPO)
      found.set(repo.id, repo)
    }
    return [...found.values()].sort((a, b) => a.id - b.id)
  }

  function narrowedPermissions(installation: Installation, requested: unknown): Record<string, Permission> {
    if (requested === undefined) return { ...installation.permissions }
    if (typeof requested !== 'object' || requested === null || Array.isArray(requested)) throw validationFailed(NOT_GRANTED)
    const out: Record<string, Permission> = {}
    for (const [name, level] of Object.entries(requested)) {
      const granted = installation.permissions[name]
      if (granted === undefined || (level !== 'read' && level !== 'write' && level !== 'admin') || !atLeast(granted, level)) throw validationFailed(NOT_GRANTED)
      out[name] = level
    }
    return out
  }

  app.get('/app', jwtOnly, async (request) => integration(originOf(request), state, createdAt))

  app.get('/app/installations', jwtOnly, async (request, reply) => {
    const origin = originOf(request)
    const list = [...state.installations.values()].sort((a, b) => a.id - b.id)
    return paginate(request, reply, origin.web, list).map((i) => installationJson(origin, state, i))
  })

  app.get('/app/installations/:installation_id', jwtOnly, async (request) => installationJson(originOf(request), state, installationParam(request)))

  app.post('/app/installations/:installation_id/access_tokens', jwtOnly, async (request, reply) => {
    const installation = installationParam(request)
    if (installation.suspendedAt !== null) throw new ApiError(403, 'This installation has been suspended')
    const raw = request.body
    const body: TokenRequest = typeof raw === 'object' && raw !== null ? raw : {}
    const repos = narrowedRepos(installation, body)
    const permissions = narrowedPermissions(installation, body.permissions)
    const token = newToken('ghs')
    const expiresAt = new Date(Date.now() + TOKEN_LIFETIME_MS)
    state.tokens.set(token, {
      kind: 'installation',
      installationId: installation.id,
      expiresAt,
      ...(repos === undefined ? {} : { repositoryIds: new Set(repos.map((r) => r.id)) }),
      permissions,
      failFirstUse: state.faults.installationTokenLag,
    })
    const origin = originOf(request)
    // Listing every repository of an "all" installation would be unbounded, and GitHub does not.
    const listed = repos ?? (installation.repositorySelection === 'selected' ? state.installationRepos(installation).sort((a, b) => a.id - b.id) : undefined)
    return reply.code(201).send({
      token,
      expires_at: isoDate(expiresAt),
      permissions,
      repository_selection: repos === undefined ? installation.repositorySelection : 'selected',
      ...(listed === undefined ? {} : { repositories: listed.map((repo) => repository(origin, state, repo)) }),
    })
  })

  app.get('/orgs/:org/installation', jwtOnly, async (request) => {
    const org = state.accountByLogin((request.params as { org: string }).org)
    const installation = org?.type === 'Organization' ? state.installationOn(org.id) : undefined
    if (installation === undefined) throw notFound()
    return installationJson(originOf(request), state, installation)
  })

  app.get('/users/:username/installation', jwtOnly, async (request) => {
    const account = state.accountByLogin((request.params as { username: string }).username)
    const installation = account === undefined ? undefined : state.installationOn(account.id)
    if (installation === undefined) throw notFound()
    return installationJson(originOf(request), state, installation)
  })

  for (const path of ['/repos/:owner/:repo/installation', '/repositories/:repository_id/installation']) {
    app.get(path, jwtOnly, async (request) => {
      const repo = repoFromParams(request, state, () => true)
      const installation = state.installationOn(repo.ownerId)
      if (installation === undefined || !state.covers(installation, repo)) throw notFound()
      return installationJson(originOf(request), state, installation)
    })
  }
}
