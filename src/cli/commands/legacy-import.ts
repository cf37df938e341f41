import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { isInteractive } from '../../config.js'
import { connect } from '../../db/connect.js'
import { CsvHeaderError, LEGACY_CSV_COLUMNS } from '../../legacy/csv-records.js'
import { importLegacyCsv, type ImportProgress } from '../../legacy/import.js'
import { defineCommand, describeDatabase, ExitCode, requireDatabaseUrl, UsageError, type CliIo } from '../command.js'

const n = (value: number): string => value.toLocaleString('en-US')
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0)

// Progress goes to a person's terminal only, on one line rewritten in place; logs and CI
// get the summary alone.
function progressLine(io: CliIo, size: number | undefined): ((p: ImportProgress) => void) | undefined {
  if (!isInteractive(io.stderr, io.env)) return undefined
  return (p) => {
    let text: string
    if (p.phase === 'copy') {
      const share = size ? ` ${Math.floor((100 * p.bytes) / size)}% (${mb(p.bytes)} of ${mb(size)} MB),` : ''
      text = `reading${share} ${n(p.records)} rows`
    } else {
      text = `${p.phase === 'check' ? 'checking' : 'merging'} ${n(p.records)} rows`
    }
    io.stderr.write(`\r\x1b[2K${text}`)
  }
}

// A file is opened again for the thorough pass when it has a problem; standard input, read
// once, goes straight to that pass.
async function open(file: string, io: CliIo): Promise<{ source: Readable | (() => Readable); size?: number }> {
  if (file === '-') return { source: io.stdin }
  let info
  try {
    info = await stat(file)
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`)
  }
  if (!info.isFile()) throw new UsageError(`${file} is not a file`)
  return { source: () => createReadStream(file), size: info.size }
}

export const legacyImport = defineCommand({
  name: 'legacy:import',
  summary: "Import the vendor's legacy OAuth users and webhooks from a CSV file",
  usage: `Usage: oauth-to-app legacy:import FILE.csv

Loads the legacy OAuth App's records into the legacy schema (legacy.oauth_users and
legacy.webhooks), as shared/contracts/legacy.md describes. FILE.csv (or - for standard
input) has one header line naming these columns, in any order:
  ${LEGACY_CSV_COLUMNS.join(',')}
RFC 4180 quoting, LF or CRLF line ends, an optional UTF-8 byte order mark; an empty field
is null; created_at is ISO 8601 (no offset means UTC). User columns repeat on each row of
that user; the user's last row in the file wins.

The import is one transaction. Every bad row is reported as FILE:LINE: reason, and if there
is any, nothing is written. Rows are matched by hook_id: a newer file updates changed rows
and adds new ones; rows it does not mention are kept; importing the same file again
changes nothing.

Options:
  -h, --help  Show this help.

Environment:
  DATABASE_URL  postgres:// URL of the service database (required).

Exit status: 0 imported, 1 the file was rejected, 2 wrong command line.
`,
  options: {},
  arguments: ['FILE.csv'],
  async run({ positionals }, io) {
    const file = positionals[0]!
    const url = requireDatabaseUrl(io.env)
    const { source, size } = await open(file, io)
    const onProgress = progressLine(io, size)
    const clearProgress = (): void => {
      if (onProgress) io.stderr.write('\r\x1b[2K')
    }
    const { pool, close } = connect(url, { max: 1, applicationName: 'oauth-to-app legacy:import' })
    const result = await importLegacyCsv(pool, source, {
      fileName: file,
      onProgress,
      onProblem: ({ line, reason }) => {
        clearProgress()
        io.stderr.write(`${file}:${line}: ${reason}\n`)
      },
    })
      .catch((error: unknown) => {
        if (error instanceof CsvHeaderError) return error
        throw error
      })
      .finally(close)
    clearProgress()
    if (result instanceof CsvHeaderError) {
      for (const problem of result.problems) io.stderr.write(`${file}:1: ${problem}\n`)
      io.stderr.write(`rejected ${file}: the header line is unusable; nothing was imported\n`)
      return ExitCode.failure
    }
    if (result.status === 'rejected') {
      io.stderr.write(`rejected ${file}: ${n(result.problems)} problem${result.problems === 1 ? '' : 's'} in ${n(result.records)} rows; nothing was imported\n`)
      return ExitCode.failure
    }
    io.stdout.write(
      `imported ${file} into ${describeDatabase(url)}: ${n(result.records)} rows\n` +
        `  hooks: ${n(result.hooksInserted)} new, ${n(result.hooksUpdated)} updated, ${n(result.hooksUnchanged)} unchanged\n` +
        `  users: ${n(result.usersInserted)} new, ${n(result.usersUpdated)} updated, ${n(result.usersUnchanged)} unchanged\n`,
    )
    return ExitCode.ok
  },
})
