import type { FastifyRequest } from 'fastify'
import type { Auth } from '../auth.js'
import type { RateStatus } from '../limits.js'
import type { Origin } from '../serialize.js'
import type { ApiLogEntry } from '../state.js'
import type { ApiAuth } from './access.js'
import { notFound } from './errors.js'

// What the API's request hook works out once and every handler reads: the credential, the
// rate-limit status, and the origin URLs in response bodies point at.

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the API's request hook for every request it lets through. */
    ghAuth: Auth | null
    ghRate: RateStatus | null
    /** The kind of credential, for the API log. */
    ghKind: ApiLogEntry['tokenKind']
    /** An OAuth app's client id and secret, as Basic credentials, on the endpoints that take them. */
    ghBasic: { clientId: string; secret: string } | null
  }
  interface FastifyContextConfig {
    /** The endpoint takes the App's JWT, and nothing else (/app, installation lookups). */
    jwt?: boolean
    /** Not counted against the hourly quota (GET /rate_limit). */
    rateFree?: boolean
    /** The endpoint takes an OAuth app's client id and secret as Basic credentials (/applications/...). */
    basic?: boolean
  }
}

export function originOf(request: FastifyRequest): Origin {
  const web = `${request.protocol}://${request.host}`
  return { web, api: `${web}/api/v3`, host: request.host }
}

/** The credential on an endpoint that takes no JWT (the API's hook has refused it there). */
export function callerOf(request: FastifyRequest): ApiAuth {
  return request.ghAuth as ApiAuth
}

/** A numeric path parameter; anything else names nothing, so 404. */
export function idParam(request: FastifyRequest, name: string): number {
  const value = (request.params as Record<string, string>)[name]!
  if (!/^\d{1,15}$/.test(value)) throw notFound()
  return Number(value)
}
