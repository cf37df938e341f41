import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { verifyAuditLines } from '../../audit-file.js'
import { connect } from '../../db/connect.js'
import { sealPending, verifyAuditChain } from '../../migration/audit.js'
import { defineCommand, describeDatabase, ExitCode, requireDatabaseUrl, UsageError, type CliIo } from '../command.js'

/** --wait of the commands that seal the log first: seconds, 0 or more. */
export function waitSeconds(value: string): number {
  const wait = Number(value)
  if (value.trim() === '' || !Number.isFinite(wait) || wait < 0) throw new UsageError(`--wait must be a number of seconds, 0 or more, not "${value}"`)
  return wait
}

async function verifyFile(file: string, io: CliIo): Promise<number> {
  if (file !== '-') {
    const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`)
    })
    if (!info.isFile()) throw new UsageError(`${file} is not a file`)
  }
  const input = file === '-' ? io.stdin : createReadStream(file)
  const check = await verifyAuditLines(createInterface({ input, crlfDelay: Infinity }))
  if (!check.intact) {
    io.stderr.write(`${file} is broken at line ${check.line}: ${check.reason}\n`)
    return ExitCode.failure
  }
  const span = check.events === 0 ? '' : ` (chain positions ${check.firstSeq} to ${check.lastSeq}; the first links to ${/^0+$/.test(check.anchor!) ? 'nothing: the file starts the log' : check.anchor})`
  io.stdout.write(`${file} is intact: ${check.events.toLocaleString('en-US')} events checked${span}\n`)
  return ExitCode.ok
}

export const auditVerify = defineCommand({
  name: 'audit:verify',
  summary: 'Check that the audit log is complete and unchanged since it was written',
  usage: `Usage: oauth-to-app audit:verify [--wait SECONDS]
       oauth-to-app audit:verify --file FILE

Walks the audit log (app.audit_event) in chain order. Each sealed event carries the SHA-256
of the previous event's hash and its own content, so an event changed, removed or inserted
after the fact breaks the chain there. Prints the number of events checked, or the first
broken event and why.

Events are written without a lock and sealed (given their place in the chain and their hash)
by the service within a moment of their commit. This command first seals what is waiting,
as the service would, so a log is complete even after every instance has stopped; events of
transactions still open then (and of any that began after one of those) cannot be sealed
yet: it waits for them up to --wait seconds, then says how many it left unchecked.

With --file, checks an export of audit:export instead, without the database: every line's
hash against its event's text and the line before it. Prints the events checked, the first
and last chain positions, and the hash the file's first line links to (zeros when the file
starts the log; otherwise the last hash of the export before it), or the first broken line.

Options:
  --wait SECONDS  How long to wait for open transactions to end (default 2; 0: no wait).
  --file FILE     Check this export ("-": standard input) instead of the database.
  -h, --help      Show this help.

Environment:
  DATABASE_URL  postgres:// URL of the service database (required without --file).

Exit status: 0 intact, 1 broken, 2 wrong command line.
`,
  options: {
    wait: { type: 'string', default: '2' },
    file: { type: 'string' },
  },
  async run({ values }, io) {
    if (values.file !== undefined) return verifyFile(values.file, io)
    const wait = waitSeconds(values.wait)
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
