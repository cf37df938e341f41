import type { FastifyBaseLogger } from 'fastify'
import { Octokit } from 'octokit'
import { redactUrl } from '../logger.js'

// The one Octokit class the service uses (probot's pattern): octokit's throttling and retry
// plugins with handlers that retry a bounded number of times and never wait long, and a
// request log that never sees a header (so never a token).

export interface GitHubClientOptions {
  /** REST API base, e.g. https://api.github.com or https://ghe.example.com/api/v3. */
  apiUrl: string
  log: FastifyBaseLogger
  /** Retries after a rate limit, and the longest wait worth retrying for (seconds). */
  maxRateLimitRetries?: number
  maxRetryAfterSeconds?: number
  /** Retries of 5xx and network errors (octokit's retry plugin). */
  retries?: number
  /** The retry plugin waits (retry number)² times this (default 1000 ms); tests wait a few ms. */
  retryAfterBaseMs?: number
}

export type GitHubOctokit = InstanceType<typeof Octokit>
export type GitHubOctokitClass = typeof Octokit

interface ThrottledRequest {
  method: string
  url: string
  request: { retryCount: number }
}

export function createOctokitClass(options: GitHubClientOptions): GitHubOctokitClass {
  const maxRetries = options.maxRateLimitRetries ?? 2
  const maxWait = options.maxRetryAfterSeconds ?? 60
  const log = options.log
  // A rate-limited request is retried when the wait is short; otherwise it fails, and the
  // caller's job (or the user's "check again") tries later instead of holding a request open.
  const onLimit =
    (kind: string) =>
    (retryAfter: number, request: ThrottledRequest): boolean => {
      const retry = request.request.retryCount < maxRetries && retryAfter <= maxWait
      log.warn({ method: request.method, url: redactUrl(request.url), retryAfter, retry }, `GitHub ${kind} rate limit`)
      return retry
    }
  const logger = { debug: log.debug.bind(log), info: log.info.bind(log), warn: log.warn.bind(log), error: log.error.bind(log) }
  const Configured = Octokit.defaults({
    baseUrl: options.apiUrl,
    userAgent: 'oauth-to-app',
    log: logger,
    throttle: { onRateLimit: onLimit('primary'), onSecondaryRateLimit: onLimit('secondary') },
    retry: { retries: options.retries ?? 2, ...(options.retryAfterBaseMs === undefined ? {} : { retryAfterBaseValue: options.retryAfterBaseMs }) },
  })
  return Configured.plugin((octokit) => {
    octokit.hook.wrap('request', async (request, endpoint) => {
      const started = performance.now()
      // The route for counting, the concrete URL for "which repository was it".
      const line = { method: endpoint.method, route: endpoint.url, url: redactUrl(octokit.request.endpoint.parse(endpoint).url) }
      try {
        const response = await request(endpoint)
        log.debug({ ...line, status: response.status, ms: Math.round(performance.now() - started) }, 'GitHub request')
        return response
      } catch (error) {
        const status = (error as { status?: number }).status
        log.info({ ...line, status, ms: Math.round(performance.now() - started) }, 'GitHub request failed')
        throw error
      }
    })
  }) as GitHubOctokitClass
}
