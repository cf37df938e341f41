import type { FastifyBaseLogger } from 'fastify'
import { Octokit } from 'octokit'
import { redactUrl } from '../logger.js'
import type { GitHubLanes } from './lanes.js'

// The one Octokit class the service uses (probot's pattern): every request through the lane of
// its credential (lanes.ts: one at a time, writes spaced, parked on rate limits, shared by every
// instance), octokit's retry plugin for GitHub's 5xx and network errors with bounded back-off,
// and a request log that never sees a header (so never a token). octokit's throttling plugin
// is off: its limiters are per process, and it would limit a second time what the lanes limit.

export interface GitHubClientOptions {
  /** REST API base, e.g. https://api.github.com or https://ghe.example.com/api/v3. */
  apiUrl: string
  log: FastifyBaseLogger
  /** The lanes every request goes through; only tests of one request at a time go without. */
  lanes?: GitHubLanes
  /** Retries of 5xx and network errors (octokit's retry plugin). */
  retries?: number
  /** The retry plugin waits (retry number)² times this (default 1000 ms); tests wait a few ms. */
  retryAfterBaseMs?: number
}

export type GitHubOctokit = InstanceType<typeof Octokit>
export type GitHubOctokitClass = typeof Octokit

/** octokit's plugin-retry list, with 429: a rate limit is the lanes' to wait out, not a fault to retry. */
const DO_NOT_RETRY = [400, 401, 403, 404, 410, 422, 429, 451]

export function createOctokitClass(options: GitHubClientOptions): GitHubOctokitClass {
  const log = options.log
  const logger = { debug: log.debug.bind(log), info: log.info.bind(log), warn: log.warn.bind(log), error: log.error.bind(log) }
  const Configured = Octokit.defaults({
    baseUrl: options.apiUrl,
    userAgent: 'oauth-to-app',
    log: logger,
    throttle: { enabled: false },
    retry: { retries: options.retries ?? 2, doNotRetry: DO_NOT_RETRY, ...(options.retryAfterBaseMs === undefined ? {} : { retryAfterBaseValue: options.retryAfterBaseMs }) },
  })
  const Logged = Configured.plugin((octokit) => {
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
  })
  const lanes = options.lanes
  if (lanes === undefined) return Logged as GitHubOctokitClass
  // The fetch is chosen per client, from its options: octokit's App builds an installation's
  // client from the App's options plus `auth.installationId`, and sends the installation token
  // request (POST /app/installations/{id}/access_tokens) with the App's JWT through that
  // client's fetch, underneath every hook; the JWT puts it in the `app` lane.
  return Logged.defaults((given: ConstructorParameters<typeof Octokit>[0] = {}) => {
    const installationId = (given.auth as { installationId?: unknown } | undefined)?.installationId
    return { ...given, request: { ...given.request, fetch: lanes.fetchFor(typeof installationId === 'number' ? installationId : undefined) } }
  }) as GitHubOctokitClass
}
