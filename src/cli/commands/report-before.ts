import { rename, rm } from 'node:fs/promises'
import { connect } from '../../db/connect.js'
import { appendAudit } from '../../migration/audit.js'
import { ownerIdsOf, REPORT_COLUMNS, REPORT_FORMATS, writeReport, type ReportFormat, type ReportScope } from '../../migration/before-report.js'
import { defineCommand, describeDatabase, ExitCode, requireDatabaseUrl, UsageError, writableFile } from '../command.js'

export const reportBefore = defineCommand({
  name: 'report:before',
  summary: 'Write the before-state report: every legacy hook, who enabled it, and what became of it',
  usage: `Usage: oauth-to-app report:before [--owner LOGIN] [--format csv|ndjson] [--out FILE]

Writes one row for each legacy webhook: as it was first recorded (frozen at its user's first
sign-in, before its removal, or by report:snapshot), or as legacy.webhooks has it now when it
was never frozen (frozen_at is then empty), and what became of it.

Columns: ${REPORT_COLUMNS.join(', ')}.
status is one of:
  active          not migrated yet: the old hook still delivers
  covered         the App covers it (installation_id, since covered_at); the old hook is still there
  removing        its removal is under way
  removed         deleted from GitHub at finished_at, with credential (legacy: the enabling
                  user's old token; installation: the App's)
  already_absent  it was already gone from GitHub when its removal was attempted
  skipped_foreign kept: it does not point at the legacy service (reason)
  not_covered     kept: the App does not cover its repository (reason)
  needs_manual    needs a person (reason)
  repository_gone the repository was deleted from GitHub, and its hook with it
repository_now is the repository's name today, when it was renamed or transferred.

Options:
  --owner LOGIN   Only this owner's hooks (a login it had, or its id), and those of
                  repositories transferred to it.
  --format F      csv (default: a header line, then RFC 4180 rows; cells a spreadsheet
                  would run as formulas start with ') or ndjson (one JSON object a line).
  --out FILE      Write to FILE (replaced once complete) instead of standard output.
  -h, --help      Show this help.

Environment:
  DATABASE_URL  postgres:// URL of the service database (required).

Exit status: 0 written, 1 no such owner, 2 wrong command line.
`,
  options: {
    owner: { type: 'string' },
    format: { type: 'string', default: 'csv' },
    out: { type: 'string' },
  },
  async run({ values }, io) {
    if (!(REPORT_FORMATS as readonly string[]).includes(values.format)) throw new UsageError(`--format must be csv or ndjson, not "${values.format}"`)
    const format = values.format as ReportFormat
    if (values.owner !== undefined && values.owner.trim() === '') throw new UsageError('--owner needs a login or an id')
    const url = requireDatabaseUrl(io.env)
    const { db, pool, close } = connect(url, { max: 2, applicationName: 'oauth-to-app report:before' })
    try {
      let scope: ReportScope = { kind: 'all' }
      if (values.owner !== undefined) {
        const ownerIds = await ownerIdsOf(db, values.owner)
        if (ownerIds.length === 0) {
          io.stderr.write(`oauth-to-app report:before: no legacy hook or migration is recorded for owner "${values.owner.trim()}"; nothing written\n`)
          return ExitCode.failure
        }
        scope = { kind: 'owner', ownerIds }
      }
      // A file appears whole or not at all: written aside, then renamed over FILE.
      const partial = values.out === undefined ? undefined : `${values.out}.partial-${process.pid}`
      const out = partial === undefined ? io.stdout : await writableFile(partial, values.out)
      let rows: number
      try {
        rows = await writeReport(pool, scope, format, out, { end: partial !== undefined })
        if (partial !== undefined) await rename(partial, values.out!)
      } catch (failure) {
        if (partial !== undefined) await rm(partial, { force: true })
        throw failure
      }
      await appendAudit(db, {
        actor: { kind: 'system', login: 'oauth-to-app report:before' },
        action: 'before_report',
        outcome: 'ok',
        ...(scope.kind === 'owner' ? { target: { ownerId: scope.ownerIds[0]! } } : {}),
        detail: { owner: values.owner?.trim() ?? null, format, rows },
      })
      io.stderr.write(`before-state report of ${describeDatabase(url)}: ${rows.toLocaleString('en-US')} hooks written${values.out === undefined ? '' : ` to ${values.out}`}\n`)
      return ExitCode.ok
    } finally {
      await close()
    }
  },
})
