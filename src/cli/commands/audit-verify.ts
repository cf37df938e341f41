import { connect } from '../../db/connect.js'
import { verifyAuditChain } from '../../migration/audit.js'
import { defineCommand, describeDatabase, ExitCode, requireDatabaseUrl } from '../command.js'

export const auditVerify = defineCommand({
  name: 'audit:verify',
  summary: 'Check that the audit log is complete and unchanged since it was written',
  usage: `Usage: oauth-to-app audit:verify

Walks the audit log (app.audit_event) in order. Each event carries the SHA-256 of the
previous event's hash and its own content, so an event changed, removed or inserted after
the fact breaks the chain there. Prints the number of events checked, or the first broken
event and why.

Options:
  -h, --help  Show this help.

Environment:
  DATABASE_URL  postgres:// URL of the service database (required).

Exit status: 0 intact, 1 broken, 2 wrong command line.
`,
  options: {},
  async run(_args, io) {
    const url = requireDatabaseUrl(io.env)
    const { db, close } = connect(url, { max: 1, applicationName: 'oauth-to-app audit:verify' })
    const check = await verifyAuditChain(db).finally(close)
    if (check.intact) {
      io.stdout.write(`audit log of ${describeDatabase(url)} is intact: ${check.events.toLocaleString('en-US')} events checked\n`)
      return ExitCode.ok
    }
    io.stderr.write(`audit log of ${describeDatabase(url)} is broken at event #${check.brokenAt}: ${check.reason}\n`)
    return ExitCode.failure
  },
})
