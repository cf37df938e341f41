import { connect } from '../../db/connect.js'
import { freezeAll } from '../../migration/before-snapshot.js'
import { defineCommand, describeDatabase, ExitCode, requireDatabaseUrl } from '../command.js'

export const reportSnapshot = defineCommand({
  name: 'report:snapshot',
  summary: 'Freeze every legacy hook record not frozen yet, for the before-state report',
  usage: `Usage: oauth-to-app report:snapshot

Copies each legacy.webhooks record that is not frozen yet into the service's own snapshot, so
the before-state report (report:before) shows it as it is now, whatever later happens to it or
to the vendor's legacy tables. A record is frozen once: records frozen earlier (at a user's
first sign-in, or before a hook's removal) keep what they said then. Safe to run again; run it
before the migration starts.

Options:
  -h, --help    Show this help.

Environment:
  DATABASE_URL  postgres:// URL of the service database (required).

Exit status: 0 done, 2 wrong command line.
`,
  options: {},
  async run(_args, io) {
    const url = requireDatabaseUrl(io.env)
    const { db, close } = connect(url, { max: 1, applicationName: 'oauth-to-app report:snapshot' })
    try {
      const { added, frozen } = await freezeAll(db, { kind: 'system', login: 'oauth-to-app report:snapshot' })
      io.stdout.write(`snapshot of ${describeDatabase(url)}: ${added.toLocaleString('en-US')} legacy hook records frozen now, ${frozen.toLocaleString('en-US')} in all\n`)
      return ExitCode.ok
    } finally {
      await close()
    }
  },
})
