import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Database } from '../db/database.js'
import { migrationCounts, type MigrationCounts } from '../migration/progress-counts.js'

// GET /metrics in Prometheus' text format (prom-client): the dashboard's counts, read from
// Postgres when scraped, and each request's route, status and duration (by the route's
// pattern, never its address: ids would make a series each). One registry per app, so tests
// build as many apps as they like. It names no user, owner or repository; keep it to the
// internal network all the same (the proxy's job).

export interface MetricsOptions {
  db: Kysely<Database>
}

export const metricsPlugin = fp<MetricsOptions>(async (app, { db }) => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'oauth_to_app_' })
  const requests = new Counter({ name: 'oauth_to_app_http_requests_total', help: 'HTTP requests answered, by method, route and status', labelNames: ['method', 'route', 'status'], registers: [registry] })
  const durations = new Histogram({
    name: 'oauth_to_app_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method and route',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  // One query per scrape for the three, which prom-client collects side by side.
  let reading: Promise<MigrationCounts> | undefined
  const counts = (): Promise<MigrationCounts> => (reading ??= migrationCounts(db).finally(() => setImmediate(() => (reading = undefined))))
  new Gauge({
    name: 'oauth_to_app_users',
    help: 'Users who started their migration here, and who finished it',
    labelNames: ['stage'],
    registers: [registry],
    async collect() {
      const c = await counts()
      this.set({ stage: 'started' }, c.usersStarted)
      this.set({ stage: 'finished' }, c.usersFinished)
    },
  })
  new Gauge({
    name: 'oauth_to_app_owners',
    help: "Accounts by where they stand: the App installed, waiting for an org owner's approval, covered, done",
    labelNames: ['stage'],
    registers: [registry],
    async collect() {
      for (const [stage, value] of Object.entries((await counts()).owners)) this.set({ stage }, value)
    },
  })
  new Gauge({
    name: 'oauth_to_app_legacy_hooks',
    help: 'Legacy webhooks on record (total), and removed, being removed, needing attention',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      for (const [state, value] of Object.entries((await counts()).hooks)) this.set({ state }, value)
    },
  })

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    requests.inc({ method: request.method, route, status: String(reply.statusCode) })
    durations.observe({ method: request.method, route }, reply.elapsedTime / 1000)
  })
  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()))
})
