import fastifyRateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { clientAddress } from './client-address.js'
import { HttpError, UNAVAILABLE } from './error-handler.js'

// Request limits per client that every instance shares: @fastify/rate-limit counting in
// Postgres (app.rate_limit) instead of each process's memory. Routes opt in with
// `config: { rateLimit: {} }`.

export interface RateLimitOptions {
  db: Kysely<Database>
  /** Requests one client may make to one route per window. */
  max: number
  windowMs: number
}

/** Ended rows removed each time a window opens: a request adds one row at most, so ended ones cannot pile up. */
const PRUNE_BATCH = 20

type ChildOptions = Parameters<FastifyRateLimitStore['child']>[0]

interface Count {
  current: number
  ttl: number
}

/**
 * One statement per request: the row is created, counted, or started again when its window has
 * ended, under the row's lock, so concurrent requests on any instance each get their own count.
 */
async function count(db: Kysely<Database>, key: string, windowMs: number): Promise<Count> {
  const { rows } = await sql<{ hits: number; ttl: number }>`
    insert into app.rate_limit as r (key, hits, resets_at)
    values (${key}, 1, now() + ${windowMs} * interval '1 millisecond')
    on conflict (key) do update set
      hits = case when r.resets_at <= now() then 1 else r.hits + 1 end,
      resets_at = case when r.resets_at <= now() then excluded.resets_at else r.resets_at end
    returning hits, ceil(extract(epoch from r.resets_at - now()) * 1000)::integer as ttl`.execute(db)
  const row = rows[0]!
  if (row.hits === 1) await prune(db)
  return { current: row.hits, ttl: row.ttl }
}

/**
 * Each window that opens removes up to PRUNE_BATCH ended ones, so ended rows cannot pile up.
 * Its own statement, skipping rows a request holds: it never waits, and never deadlocks with one.
 */
async function prune(db: Kysely<Database>): Promise<void> {
  await sql`
    delete from app.rate_limit where key in (
      select key from app.rate_limit where resets_at <= now() order by resets_at limit ${PRUNE_BATCH} for update skip locked
    )`.execute(db)
}

/** A store class bound to this server's database (the plugin constructs it itself). */
function postgresStore(db: Kysely<Database>): FastifyRateLimitStoreCtor {
  return class PostgresRateLimitStore implements FastifyRateLimitStore {
    constructor(
      _options: unknown,
      private readonly route = '',
    ) {}

    incr(key: string, callback: (error: Error | null, result?: Count) => void, timeWindow: number): void {
      count(db, `${this.route}${key}`, timeWindow).then(
        (result) => callback(null, result),
        // Without its database the service can do nothing useful: "unavailable", as its pages say.
        (error: unknown) => callback(new HttpError(503, UNAVAILABLE, { cause: error })),
      )
    }

    child(routeOptions: ChildOptions): FastifyRateLimitStore {
      // The plugin passes the route's merged limit options, the route under `routeInfo` (its
      // type declarations say otherwise; RedisStore reads it the same way). Each path counts on
      // its own, by path alone: the HEAD route fastify adds to a GET runs the same handler, and
      // must not be a second allowance.
      const { url } = (routeOptions as unknown as { routeInfo: { url: string } }).routeInfo
      return new PostgresRateLimitStore(undefined, `${url} `)
    }
  }
}

export const rateLimitPlugin = fp<RateLimitOptions>(async (app, options) => {
  await app.register(fastifyRateLimit, {
    global: false,
    max: options.max,
    timeWindow: options.windowMs,
    store: postgresStore(options.db),
    keyGenerator: clientAddress,
  })
})
