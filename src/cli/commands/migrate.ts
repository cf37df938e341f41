import type { MigrationResult } from 'kysely/migration'
import { connect } from '../../db/connect.js'
import { migrateDown, migrateToLatest } from '../../db/migrator.js'
import { defineCommand, describeDatabase, ExitCode, requireDatabaseUrl, type CliIo } from '../command.js'

function report(results: readonly MigrationResult[], io: CliIo): void {
  for (const result of results) {
    io.stdout.write(`${result.direction === 'Up' ? 'applied' : 'reverted'} ${result.migrationName}\n`)
  }
}

export const migrate = defineCommand({
  name: 'migrate',
  summary: 'Apply pending database migrations (or revert the last one with --down)',
  usage: `Usage: oauth-to-app migrate [--down]

Brings the service's database schema up to date: applies every pending migration in order
and prints one line per migration applied. All of them run in one transaction: when one
fails, none is applied. Safe to run from several places at once: Postgres' advisory lock
makes each migration run exactly once. The service also does this when it starts.

Options:
  --down      Revert only the most recent migration (its data is lost).
  -h, --help  Show this help.

Environment:
  DATABASE_URL  postgres:// URL of the service database (required).
`,
  options: {
    down: { type: 'boolean' },
  },
  async run({ values }, io) {
    const url = requireDatabaseUrl(io.env)
    io.stdout.write(`database ${describeDatabase(url)}\n`)
    const { db, close } = connect(url, { max: 1, applicationName: 'oauth-to-app migrate' })
    try {
      const results = values.down === true ? await migrateDown(db) : await migrateToLatest(db)
      report(results, io)
      if (results.length === 0) io.stdout.write(values.down === true ? 'no migration to revert\n' : 'database is up to date\n')
      return ExitCode.ok
    } finally {
      await close()
    }
  },
})
