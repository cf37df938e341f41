import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { ConfigError, loadConfig, type Config } from './config.js'
import { connect } from './db/connect.js'
import { migrateToLatest } from './db/migrator.js'
import { buildServer } from './server.js'

// `npm start`: production mode. Refuses to start on an invalid environment, brings the schema
// up to date (instances starting together wait on the migrator's advisory lock), serves, and
// on SIGINT/SIGTERM stops taking requests, finishes the ones in flight, then closes the pool.

async function start(config: Config): Promise<void> {
  const db = connect(config.databaseUrl)
  let app: FastifyInstance | undefined
  try {
    const applied = await migrateToLatest(db.db)
    app = await buildServer({
      db,
      logLevel: config.logLevel,
      publicUrl: config.publicUrl,
      secureCookies: config.secureCookies,
      staff: config.staff,
      sessionSecret: config.sessionSecret,
      github: config.github,
      legacy: config.legacy,
      trustProxy: config.trustProxy,
    })
    app.log.info({ migrations: applied.map((m) => m.migrationName) }, 'database schema up to date')
    await app.listen({ host: config.host, port: config.port })
  } catch (error) {
    await app?.close()
    await db.close()
    throw error
  }

  const server = app
  closeWithGrace({ delay: 10_000, logger: server.log }, async ({ signal, err }) => {
    /* c8 ignore next 3 -- an uncaught error inside a healthy server cannot be provoked from a test */
    if (err !== undefined) {
      server.log.error({ err }, 'uncaught error, shutting down')
    }
    server.log.info({ signal }, 'shutting down')
    await server.close()
    await db.close()
  })
}

try {
  await start(loadConfig())
} catch (error) {
  // A ConfigError names every problem and never a value; anything else is a start-up failure
  // (database unreachable, migration failed, port taken) whose message is enough to act on.
  const message = error instanceof ConfigError ? error.message : `could not start: ${(error as Error).message}`
  process.stderr.write(`oauth-to-app: ${message}\n`)
  process.exitCode = 1
}
