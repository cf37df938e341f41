import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import Cursor from 'pg-cursor'
import type { Database } from './database.js'

export interface Db {
  db: Kysely<Database>
  /** For what kysely does not do: COPY streams. */
  pool: pg.Pool
  close(): Promise<void>
}

const INT8 = 20
const INT8_ARRAY = 1016
/** A one-dimensional bigint array without nulls, as Postgres writes it: {1,-2,3}. */
const PLAIN_INT8_ARRAY = /^\{(-?\d+(,-?\d+)*)?\}$/

/**
 * A client that loses its server (restart, failover, a terminated backend) emits 'error', which
 * would end the process without a listener. The pool listens only while a client is idle, so
 * every client gets one for its whole life; the query in flight still fails, and the pool drops
 * the client when it comes back.
 */
function listenForLostConnections(pool: pg.Pool, onError: (error: Error) => void): void {
  pool.on('error', onError)
  pool.on('connect', (client) => client.on('error', onError))
}

/**
 * A small pool of its own to the database of `pool`, for work that must not wait behind the
 * service's requests for a connection (GitHub lanes, the job queue's bookkeeping).
 */
export function sidePool(pool: pg.Pool, options: Required<ConnectOptions>): pg.Pool {
  const side = new pg.Pool({ ...pool.options, max: options.max, application_name: options.applicationName })
  listenForLostConnections(side, options.onError)
  return side
}

// Per pool rather than through pg.types.setTypeParser, which would change every pool in the process.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8) return (value: string) => Number(value)
    if (oid === INT8_ARRAY) {
      const parseArray = (pg.types.getTypeParser as (oid: number, format: 'text') => unknown)(INT8_ARRAY, 'text') as (value: string) => string[]
      // The wizard reads thousands of these a page, nearly all '{n}' or '{n,m}': split, without
      // the general parser (kept for nulls and nested arrays).
      return (value: string) => (PLAIN_INT8_ARRAY.test(value) ? (value === '{}' ? [] : value.slice(1, -1).split(',').map(Number)) : parseArray(value).map(Number))
    }
    return pg.types.getTypeParser(oid, format)
  },
} as pg.CustomTypesConfig

export interface ConnectOptions {
  max?: number
  applicationName?: string
  onError?: (error: Error) => void
}

export function connect(url: string, options: ConnectOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    types,
    application_name: options.applicationName ?? 'oauth-to-app',
    connectionTimeoutMillis: 5_000,
  })
  listenForLostConnections(pool, options.onError ?? (() => {}))
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool, cursor: Cursor }) })
  return {
    db,
    pool,
    // kysely's destroy() ends the pool too.
    close: () => db.destroy(),
  }
}
