import { isIP } from 'node:net'
import { normalizeIP } from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import type { TrustProxy } from '../config.js'

// Who a request comes from, as far as this service can tell: the socket's peer, or, through
// the proxies TRUST_PROXY names, the address the nearest untrusted hop was seen from.

/**
 * fastify's `trustProxy` for TRUST_PROXY. A hop count becomes a function: fastify 5 reads a
 * bare number as "trust nothing", since a count alone cannot tell a proxy from a client.
 */
export function fastifyTrustProxy(trust: TrustProxy): false | string[] | ((address: string, hop: number) => boolean) {
  if (trust === false) return false
  if (typeof trust === 'number') return (_address, hop) => hop < trust
  return [...trust]
}

/**
 * The key a client is counted under: its address, an IPv6 one by its /64 (one subscriber's
 * usual allocation, as @fastify/rate-limit does). Anything that is not an address (a proxy
 * trusted too far passing on what a client wrote) is one client, "unknown", so that made-up
 * values neither escape the limit nor reach the audit log.
 */
export function clientAddress(request: FastifyRequest): string {
  return isIP(request.ip) === 0 ? 'unknown' : normalizeIP(request.ip)
}
