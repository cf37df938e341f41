import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type pg from 'pg'
import type { Database } from '../db/database.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's database. Owned by whoever built the server, which closes it after the app. */
    db: Kysely<Database>
    /** The same database's pool, for what kysely does not do: COPY streams. */
    pool: pg.Pool
  }
}

export const databasePlugin = fp<{ db: Kysely<Database>; pool: pg.Pool }>(async (app, options) => {
  app.decorate('db', options.db)
  app.decorate('pool', options.pool)
})
