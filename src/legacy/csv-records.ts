import { isUtf8 } from 'node:buffer'
import { Transform, type TransformCallback, type TransformOptions } from 'node:stream'

// Turns a legacy CSV file into the rows of the import's COPY: each record becomes
//   <line>,<problem>,<the record's own bytes>\n
// where <line> is the physical line the record starts on (quoted newlines count, as in an
// editor) and <problem> is empty for a well-formed record. A malformed record keeps its line
// with the problem and empty fields, so Postgres receives every record, the import can report
// every bad row in one pass, and this process holds no list of errors: memory stays flat.
//
// Records are checked against RFC 4180 strictly, so that where this scanner sees a record's
// fields is exactly where Postgres' CSV parser will: a quote opens a field or nowhere, a closing
// quote ends it. Line ends may be LF or CRLF; a record's CRLF becomes LF for Postgres.

export const LEGACY_CSV_COLUMNS = [
  'github_user_id',
  'login',
  'oauth_token',
  'scopes',
  'kind',
  'owner_id',
  'owner_login',
  'owner_type',
  'repo_id',
  'repo_name',
  'hook_id',
  'hook_url',
  'created_at',
] as const

export type LegacyCsvColumn = (typeof LEGACY_CSV_COLUMNS)[number]

export class CsvHeaderError extends Error {
  override name = 'CsvHeaderError'
  constructor(readonly problems: string[]) {
    super(problems.join('; '))
  }
}

export const QUOTE = 0x22
export const COMMA = 0x2c
export const LF = 0x0a
const CR = 0x0d

interface Scan {
  /** Fields in the record; -1 when the record is malformed. */
  fields: number
  problem: string | undefined
  /** Where the record's content ends (before CR LF / LF). */
  contentEnd: number
  /** Where the next record starts; -1 when the record is not complete in this buffer. */
  next: number
  /** Newlines inside quoted fields. */
  innerLines: number
}

/**
 * Scans one record of `buf` from `start`. With `final`, the end of the buffer ends the record.
 * `ends` receives where each field but the last ends (its comma), as far as it has room.
 * Hand-rolled rather than a CSV library: it must agree with Postgres byte for byte, and it is
 * the one loop that touches every byte of a million-row file.
 */
function scanRecord(buf: Uint8Array, start: number, final: boolean, ends: Int32Array): Scan {
  const end = buf.length
  let i = start
  let fields = 1
  let innerLines = 0
  let problem: string | undefined
  for (;;) {
    // At the start of a field.
    if (i < end && buf[i] === QUOTE) {
      i++
      for (;;) {
        if (i >= end) {
          if (!final) return { fields, problem, contentEnd: i, next: -1, innerLines }
          return { fields: -1, problem: problem ?? 'has a quoted field that is never closed', contentEnd: end, next: end, innerLines }
        }
        const c = buf[i]
        if (c === QUOTE) {
          if (i + 1 >= end && !final) return { fields, problem, contentEnd: i, next: -1, innerLines }
          if (buf[i + 1] === QUOTE) {
            i += 2
            continue
          }
          i++
          break
        }
        if (c === LF) innerLines++
        i++
      }
      // Just after a closing quote: only a separator or the end of the record may follow.
      if (i < end && buf[i] !== COMMA && buf[i] !== LF && buf[i] !== CR) {
        problem ??= 'has text after the closing quote of a field'
      }
    }
    // The rest of an unquoted field (or what follows a closing quote).
    for (;;) {
      if (i >= end) {
        if (!final) return { fields, problem, contentEnd: i, next: -1, innerLines }
        return { fields: problem ? -1 : fields, problem, contentEnd: end, next: end, innerLines }
      }
      const c = buf[i]
      if (c === COMMA) {
        if (fields <= ends.length) ends[fields - 1] = i
        fields++
        i++
        break
      }
      if (c === LF) {
        return { fields: problem ? -1 : fields, problem, contentEnd: i, next: i + 1, innerLines }
      }
      if (c === CR) {
        if (i + 1 >= end && !final) return { fields, problem, contentEnd: i, next: -1, innerLines }
        if (buf[i + 1] === LF) return { fields: problem ? -1 : fields, problem, contentEnd: i, next: i + 2, innerLines }
        problem ??= 'has a carriage return outside quotes'
      } else if (c === QUOTE) {
        problem ??= 'has a quote inside a field that does not start with one'
      }
      i++
    }
  }
}

/** Splits a header record into its field values. */
function headerFields(record: Uint8Array): string[] {
  const text = Buffer.from(record).toString('utf8')
  const names: string[] = []
  let i = 0
  for (;;) {
    let value = ''
    if (text[i] === '"') {
      // The record scanned clean, so the closing quote is there.
      let stop = i + 1
      while (text[stop] !== '"' || text[stop + 1] === '"') stop += text[stop] === '"' ? 2 : 1
      value = text.slice(i + 1, stop).replace(/""/g, '"')
      i = stop + 1
    }
    const comma = text.indexOf(',', i)
    value += text.slice(i, comma < 0 ? text.length : comma)
    names.push(value.trim())
    if (comma < 0) return names
    i = comma + 1
  }
}

function csvQuote(text: string): string {
  return `"${text.replace(/"/g, '""')}"`
}

function toColumns(names: string[]): LegacyCsvColumn[] {
  const problems: string[] = []
  const known = new Set<string>(LEGACY_CSV_COLUMNS)
  const seen = new Set<string>()
  for (const name of names) {
    if (name === '') problems.push('a column has no name')
    else if (!known.has(name)) problems.push(`unknown column "${name}"`)
    else if (seen.has(name)) problems.push(`column "${name}" appears twice`)
    seen.add(name)
  }
  const missing = LEGACY_CSV_COLUMNS.filter((c) => !seen.has(c))
  if (missing.length > 0) problems.push(`missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`)
  if (problems.length > 0) {
    throw new CsvHeaderError([...problems, `the header must name these columns, in any order: ${LEGACY_CSV_COLUMNS.join(',')}`])
  }
  return names as LegacyCsvColumn[]
}

export interface CsvProgress {
  bytes: number
  records: number
}

/**
 * The transform from file bytes to COPY rows. `columns` resolves with the header's column
 * order (the COPY's column list) before the first row is pushed, or rejects with a
 * CsvHeaderError.
 */
export class LegacyCsvRecords extends Transform {
  readonly columns: Promise<LegacyCsvColumn[]>
  records = 0
  /** Records that are not well-formed CSV of the header's width. */
  malformed = 0
  bytes = 0
  protected line = 1
  protected header: LegacyCsvColumn[] | undefined
  protected readonly ends = new Int32Array(LEGACY_CSV_COLUMNS.length)
  private carry: Buffer = Buffer.alloc(0)
  private emptyRow = ''
  private resolveColumns!: (c: LegacyCsvColumn[]) => void
  private rejectColumns!: (e: Error) => void

  constructor(options?: TransformOptions) {
    super(options)
    this.columns = new Promise((resolve, reject) => {
      this.resolveColumns = resolve
      this.rejectColumns = reject
    })
    // Nobody may be waiting on it yet when the header fails; the error also ends the stream.
    this.columns.catch(() => {})
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk
    this.process(buf, false, done)
  }

  override _flush(done: TransformCallback): void {
    this.process(this.carry, true, done)
  }

  private process(input: Buffer, final: boolean, done: TransformCallback): void {
    let buf = input
    try {
      if (this.header === undefined) {
        // The header decides the COPY's column list, so nothing passes before it is whole.
        const header = this.readHeader(buf, final)
        if (header === undefined) {
          this.carry = buf
          done()
          return
        }
        buf = buf.subarray(header)
      }
      this.carry = Buffer.from(this.pushRecords(buf, final))
      done()
    } catch (error) {
      done(error as Error)
    }
  }

  /** Returns where the records start, or undefined until the header is complete. */
  private readHeader(input: Buffer, final: boolean): number | undefined {
    const bom = input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf ? 3 : 0
    if (input.length < 3 && !final) return undefined
    const scan = scanRecord(input, bom, final, this.ends)
    if (scan.next < 0) return undefined
    if (final && scan.contentEnd === bom && scan.next === input.length) {
      const error = new CsvHeaderError(['the file is empty: the first line must name the columns'])
      this.rejectColumns(error)
      throw error
    }
    const record = input.subarray(bom, scan.contentEnd)
    try {
      if (scan.problem !== undefined) throw new CsvHeaderError([`the header line ${scan.problem}`])
      if (!isUtf8(record)) throw new CsvHeaderError(['the header line is not valid UTF-8'])
      this.header = toColumns(headerFields(record))
    } catch (error) {
      this.rejectColumns(error as Error)
      throw error
    }
    this.emptyRow = ','.repeat(this.header.length - 1)
    this.line += 1 + scan.innerLines
    this.resolveColumns(this.header)
    return scan.next
  }

  /** Pushes every complete record of `buf`; returns the incomplete tail. */
  private pushRecords(buf: Buffer, final: boolean): Uint8Array {
    const width = this.header!.length
    // Checked per record only when the whole buffer fails (or ends inside a character).
    const clean = isUtf8(buf) && !buf.includes(0)
    let pos = 0
    while (pos < buf.length) {
      const start = pos
      const scan = scanRecord(buf, pos, final, this.ends)
      if (scan.next < 0) break
      const line = this.line
      this.line += 1 + scan.innerLines
      pos = scan.next
      // Blank lines (a trailing one, above all) are not records.
      if (scan.contentEnd === start) continue
      this.records++
      let problem = scan.problem
      if (problem === undefined && scan.fields !== width) {
        problem = `has ${scan.fields} field${scan.fields === 1 ? '' : 's'} where the header has ${width}`
      }
      if (problem === undefined && !clean) {
        const content = buf.subarray(start, scan.contentEnd)
        if (content.includes(0)) problem = 'contains a NUL byte'
        else if (!isUtf8(content)) problem = 'is not valid UTF-8'
      }
      // A subclass may stop reading: the rest of the input is passed over.
      if (!this.record(buf, start, scan.contentEnd, line, problem)) return buf.subarray(buf.length)
    }
    this.flushRecords(final)
    return buf.subarray(pos)
  }

  private parts: Uint8Array[] = []

  /**
   * One record, `buf` from `start` to `end`, starting on `line`; `problem` says why it is not
   * well-formed CSV of the header's width. (`ends` holds where its fields but the last end.)
   * False stops the reading.
   */
  protected record(buf: Buffer, start: number, end: number, line: number, problem: string | undefined): boolean {
    if (problem === undefined) {
      this.parts.push(Buffer.from(`${line},,`), buf.subarray(start, end), NEWLINE)
    } else {
      this.malformed++
      this.parts.push(Buffer.from(`${line},${csvQuote(problem)},${this.emptyRow}\n`))
    }
    return true
  }

  /** Pushes what the records of one input chunk became; `final` at the end of the file. */
  protected flushRecords(_final: boolean): void {
    if (this.parts.length > 0) this.push(Buffer.concat(this.parts))
    this.parts = []
  }
}

const NEWLINE = Buffer.from('\n')
