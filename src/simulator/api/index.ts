import { createPublicKey } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { actorOf, authenticate, basicCredentials, type Auth, type AuthResult } from '../auth.js'
import { ApiLimiter, matchingFault, rateHeaders } from '../limits.js'
import type { Breach } from '../state.js'
import { appRoutes } from './app.js'
import { ApiError, DOCS_URL, jwtRequired, MovedPermanently, notAccessibleByIntegration, notFound } from './errors.js'
import { grantRoutes } from './grants.js'
import { hookRoutes } from './hooks.js'
import { installationRoutes } from './installation.js'
import { orgMemberRoutes } from './org-members.js'
import { rateLimitRoutes } from './rate-limit.js'
import { acceptedHeader, requireRouteScopes } from './scopes.js'
import { repoRoutes } from './repos.js'
import { userInstallationRoutes } from './user-installations.js'
import { userRoutes } from './users.js'
import { JSON_TYPE } from '../serialize.js'

// The REST API under /api/v3. One hook does what GitHub does before any endpoint runs:
// authenticate, count the request against the credential's quota, apply the secondary limits
// (counting every breach), check a legacy token's OAuth scopes, and apply the faults a test
// switched on; every response is delayed by the latency fault and logged.

const SECONDARY =
  'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.'
const RATE_DOCS = 'https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api'
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

function rateKey(request: FastifyRequest, auth: Auth): string {
  switch (auth.kind) {
    case 'jwt':
      return 'app'
    case 'none':
      return `ip:${request.ip}`
    default:
      return `token:${auth.token}`
  }
}

function quotaOwner(request: FastifyRequest, auth: Auth): string {
  switch (auth.kind) {
    case 'jwt':
      return 'the app'
    case 'none':
      return request.ip
    case 'installation':
      return `installation ID ${auth.installation.id}`
    default:
      return `user ID ${auth.user.id}`
  }
}

/** The request's path under /api/v3, without the query, for the log and the breach list. */
function apiPath(request: FastifyRequest): string {
  return request.url.split('?')[0]!.replace(/^\/api\/v3/, '')
}

export const apiRoutes: FastifyPluginAsync = async (app) => {
  const { state, keys } = app.sim
  const publicKey = createPublicKey(keys.publicKey)
  const limiter = new ApiLimiter(() => state.limits)
  /** Requests carried out whose answer a fault loses: the status the client gets instead. */
  const lostAnswers = new WeakMap<FastifyRequest, number>()

  app.decorateRequest('ghAuth', null)
  app.decorateRequest('ghRate', null)
  app.decorateRequest('ghKind', 'none')
  app.decorateRequest('ghBasic', null)

  // GitHub takes a write with no body at all (octokit sends PUT with an empty one).
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    if (body === '') return done(null, undefined)
    try {
      done(null, JSON.parse(body as string))
    } catch {
      done(new ApiError(400, 'Problems parsing JSON'))
    }
  })

  app.addHook('onRequest', async (request, reply) => {
    const now = new Date()
    reply.header('x-github-api-version-selected', '2022-11-28')
    reply.header('x-github-media-type', 'github.v3; format=json')
    // Basic credentials (an OAuth app's client id and secret) only where GitHub takes them.
    const basic = basicCredentials(request.headers.authorization)
    if (basic !== undefined) {
      if (request.routeOptions.config.basic !== true) {
        request.ghKind = 'invalid'
        throw new ApiError(401, 'Bad credentials')
      }
      request.ghBasic = basic
    }
    const result: AuthResult = basic !== undefined ? { ok: true, auth: { kind: 'none' } } : authenticate(state, publicKey, request.headers.authorization, now)
    if (!result.ok) {
      request.ghKind = 'invalid'
      throw new ApiError(result.status, result.message)
    }
    const auth = result.auth
    request.ghAuth = auth
    request.ghKind = auth.kind
    const route = (request.routeOptions.url ?? '').replace(/^\/api\/v3(?=\/)/, '')
    if (auth.kind === 'legacy') {
      reply.header('x-oauth-scopes', auth.scopes.join(', '))
      reply.header('x-accepted-oauth-scopes', acceptedHeader(request.method, route))
    }
    const config = request.routeOptions.config
    if (config.jwt === true && auth.kind !== 'jwt') throw jwtRequired()
    if (config.jwt !== true && auth.kind === 'jwt') throw notAccessibleByIntegration()

    const key = rateKey(request, auth)
    const rate = limiter.consume(key, now.getTime(), config.rateFree !== true)
    request.ghRate = rate
    reply.headers(rateHeaders(rate))
    // Counted before refusing, so a test can assert that its client never ran into a limit.
    const breach = (limit: Breach['limit'], error: ApiError): ApiError => {
      const actor = actorOf(auth, state.app.slug)
      state.recordBreach({ at: now, limit, tokenKind: auth.kind, ...(actor === undefined ? {} : { actor }), method: request.method, path: apiPath(request) })
      return error
    }
    if (rate.exceeded) throw breach('quota', new ApiError(403, `API rate limit exceeded for ${quotaOwner(request, auth)}.`, {}, RATE_DOCS))
    if (!limiter.enter(key)) throw breach('concurrent', new ApiError(403, SECONDARY, { 'retry-after': '1' }, RATE_DOCS))
    reply.raw.once('close', () => limiter.leave(key))
    if (WRITE_METHODS.has(request.method) && auth.kind !== 'jwt') {
      const wait = limiter.write(key, now.getTime())
      if (wait > 0) throw breach('writes', new ApiError(429, SECONDARY, { 'retry-after': String(wait) }, RATE_DOCS))
    }

    if (auth.kind === 'legacy') requireRouteScopes(auth.scopes, request.method, route)

    const fault = matchingFault(state.faults, request.method, request.routeOptions.url ?? '', request.url.split('?')[0]!, state.random, actorOf(auth, state.app.slug))
    if (fault?.retryAfter !== undefined) throw new ApiError(fault.status, SECONDARY, { 'retry-after': String(fault.retryAfter) }, RATE_DOCS)
    if (fault?.lost === true) lostAnswers.set(request, fault.status)
    else if (fault !== undefined) throw new ApiError(fault.status, STATUS_CODES[fault.status] ?? 'Error')
  })

  app.addHook('onSend', async (request, reply, payload) => {
    if (state.faults.latencyMs > 0) await sleep(state.faults.latencyMs)
    // Done, and the answer lost on the way: the client sees only the failure.
    const lost = lostAnswers.get(request)
    if (lost === undefined) return payload
    reply.code(lost).header('content-type', JSON_TYPE)
    return JSON.stringify({ message: STATUS_CODES[lost] ?? 'Error', documentation_url: DOCS_URL, status: String(lost) })
  })

  app.addHook('onResponse', async (request, reply) => {
    const auth = request.ghAuth
    state.recordApi({
      at: new Date(),
      method: request.method,
      path: apiPath(request),
      tokenKind: request.ghKind,
      ...(auth === null ? {} : { actor: actorOf(auth, state.app.slug) }),
      status: reply.statusCode,
    })
  })

  app.setErrorHandler(async (error, request, reply) => {
    if (error instanceof MovedPermanently) {
      return reply
        .code(301)
        .header('location', error.location)
        .send({ message: 'Moved Permanently', url: error.location, documentation_url: 'https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects' })
    }
    if (error instanceof ApiError) {
      return reply.code(error.status).headers(error.headers).send({ message: error.message, documentation_url: error.documentationUrl, status: String(error.status) })
    }
    // fastify's own refusals (an unsupported media type, a body too large) keep their status.
    const status = (error as { statusCode?: number }).statusCode ?? 500
    if (status < 500) return reply.code(status).send({ message: (error as Error).message, documentation_url: DOCS_URL, status: String(status) })
    request.log.error(error)
    return reply.code(500).send({ message: 'Server Error', documentation_url: DOCS_URL, status: '500' })
  })

  app.setNotFoundHandler(async () => {
    throw notFound()
  })

  await app.register(userRoutes)
  await app.register(userInstallationRoutes)
  await app.register(appRoutes)
  await app.register(installationRoutes)
  await app.register(repoRoutes)
  await app.register(hookRoutes)
  await app.register(grantRoutes)
  await app.register(orgMemberRoutes)
  await app.register(rateLimitRoutes)
}
