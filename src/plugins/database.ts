import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's database. Owned by whoever built the server, which closes it after the app. */
    db: Kysely<Database>
  }
}

export const databasePlugin = fp<{ db: Kysely<Database> }>(async (app, options) => {
  app.decorate('db', options.db)
})
