import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { connect } from '../../db/connect.js'
import { sealPending } from '../../migration/audit.js'
import { auditLines } from '../../migration/audit-export.js'
import { parseInstant } from '../../migration/audit-search.js'
import { waitSeconds } from './audit-verify.js'
import { defineCommand, describeDatabase, ExitCode, requireDatabaseUrl, UsageError, writableFile } from '../command.js'

export const auditExport = defineCommand({
  name: 'audit:export',
  summary: 'Write the audit log with its chain hashes, for an outside party to check',
  usage: `Usage: oauth-to-app audit:export [--since TIME] [--format ndjson] [--out FILE] [--wait SECONDS]

Writes the sealed audit events in chain order, one JSON object a line:
  {"seq": 1, "prev_hash": "00…", "hash": "9f…", "canonical": "{\\"id\\": 1, …}"}
"canonical" is the event exactly as it was hashed; "hash" is SHA-256 of the bytes of
"prev_hash" followed by "canonical" in UTF-8; each line's "prev_hash" is the line before's
"hash". \`oauth-to-app audit:verify --file FILE\` checks a file without the database, and so
can anyone with a few lines of code. Events are sealed first, as audit:verify does.

Options:
  --since TIME    From the first event written at or after TIME (2026-11-30 or an ISO
                  instant) to the end of the log; the first line then links to the event
                  before it, which the previous export ends with. Default: the whole log.
  --format ndjson The only format (and the default).
  --out FILE      Write to FILE (replaced) instead of standard output.
  --wait SECONDS  How long to wait for open transactions before sealing (default 2; 0: no
                  wait); what they hold back is counted and left for the next export.
  -h, --help      Show this help.

Environment:
  DATABASE_URL  postgres:// URL of the service database (required).

Exit status: 0 written, 2 wrong command line.
`,
  options: {
    since: { type: 'string' },
    format: { type: 'string', default: 'ndjson' },
    out: { type: 'string' },
    wait: { type: 'string', default: '2' },
  },
  async run({ values }, io) {
    if (values.format !== 'ndjson') throw new UsageError(`--format must be ndjson, not "${values.format}"`)
    let since: Date | undefined
    if (values.since !== undefined) {
      since = parseInstant(values.since)
      if (since === undefined) throw new UsageError(`--since must be a date (2026-11-30) or an ISO instant, not "${values.since}"`)
    }
    const wait = waitSeconds(values.wait)
    const url = requireDatabaseUrl(io.env)
    const out = values.out === undefined ? io.stdout : await writableFile(values.out)
    const { db, close } = connect(url, { max: 1, applicationName: 'oauth-to-app audit:export' })
    try {
      const sealed = await sealPending(db, wait * 1000)
      // Each piece written out before the next is read: an export of millions never piles up.
      const counted = { events: 0 }
      await pipeline(Readable.from(auditLines(db, since, counted)), out, { end: out !== io.stdout })
      const count = counted.events
      const held = sealed.pending === 0 ? '' : `; ${sealed.pending.toLocaleString('en-US')} newer events await sealing and are not in it`
      io.stderr.write(`audit log of ${describeDatabase(url)}: ${count.toLocaleString('en-US')} events written${values.out === undefined ? '' : ` to ${values.out}`}${held}\n`)
    } finally {
      await close()
    }
    return ExitCode.ok
  },
})
