import { connect } from '../../db/connect.js'
import { sealPending, verifyAuditChain } from '../../migration/audit.js'
import { defineCommand, describeDatabase, ExitCode, requireDatabaseUrl, UsageError } from '../command.js'

export const auditVerify = defineCommand({
  name: 'audit:verify',
  summary: 'Check that the audit log is complete and unchanged since it was written',
  usage: `Usage: oauth-to-app audit:verify [--wait SECONDS]

Walks the audit log (app.audit_event) in chain order. Each sealed event carries the SHA-256
of the previous event's hash and its own content, so an event changed, removed or inserted
after the fact breaks the chain there. Prints the number of events checked, or the first
broken event and why.

Events are written without a lock and sealed (given their place in the chain and their hash)
by the service within a moment of their commit. This command first seals what is waiting,
as the service would, so a log is complete even after every instance has stopped; events of
transactions still open then (and of any that began after one of those) cannot be sealed
yet: it waits for them up to --wait seconds, then says how many it left unchecked.

Options:
  --wait SECONDS  How long to wait for open transactions to end (default 2; 0: no wait).
  -h, --help      Show this help.

Environment:
  DATABASE_URL  postgres:// URL of the service database (required).

Exit status: 0 intact, 1 broken, 2 wrong command line.
`,
  options: {
    wait: { type: 'string', default: '2' },
  },
  async run({ values }, io) {
    const wait = Number(values.wait)
    if (values.wait.trim() === '' || !Number.isFinite(wait) || wait < 0) throw new UsageError(`--wait must be a number of seconds, 0 or more, not "${values.wait}"`)
    const url = requireDatabaseUrl(io.env)
    const { db, close } = connect(url, { max: 1, applicationName: 'oauth-to-app audit:verify' })
    const check = await sealPending(db, wait * 1000)
      .then(() => verifyAuditChain(db))
      .finally(close)
    const pending =
      check.pending === 0 ? '' : `; not checked, awaiting sealing because a transaction that began before theirs is still open: ${check.pending.toLocaleString('en-US')}`
    if (check.intact) {
      io.stdout.write(`audit log of ${describeDatabase(url)} is intact: ${check.events.toLocaleString('en-US')} events checked${pending}\n`)
      return ExitCode.ok
    }
    io.stderr.write(`audit log of ${describeDatabase(url)} is broken at event #${check.brokenAt}: ${check.reason}${pending}\n`)
    return ExitCode.failure
  },
})
