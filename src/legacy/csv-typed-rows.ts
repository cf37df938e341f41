import { COMMA, LEGACY_CSV_COLUMNS, LF, LegacyCsvRecords, QUOTE, type LegacyCsvColumn } from './csv-records.js'

// The fast path of a first import: the same scan as LegacyCsvRecords, but each record is
// checked here, against the import's rules, and split into the rows of two COPYs straight into
// typed tables: one into legacy.webhooks, one into a small table of users. There is no text
// staging table and no INSERT ... SELECT, which were most of the import's time.
//
// This check only has to be sure, not to explain: a record it is not sure of (malformed, or
// breaking a rule, or merely unusual, such as an id in quotes) sets `doubt`, the scanner stops
// producing rows, and the import starts again on the thorough path, which names every problem.
// So it may be stricter than the rules, never looser: each test below implies the rule of
// import-sql.ts it stands for. What COPY itself refuses (a created_at Postgres cannot read, a
// hook_id twice) also sends the import to the thorough path.

/** The columns of legacy.webhooks that the file holds. */
export const HOOK_FIELDS = LEGACY_CSV_COLUMNS.filter((c) => c !== 'login' && c !== 'oauth_token' && c !== 'scopes')
/** The columns of legacy.oauth_users. */
export const USER_FIELDS = ['github_user_id', 'login', 'oauth_token', 'scopes'] as const satisfies readonly LegacyCsvColumn[]

export interface TypedRows {
  /** COPY CSV rows of HOOK_FIELDS, in the header's order. */
  hooks: Buffer
  /** COPY CSV rows of the line, then USER_FIELDS in the header's order. */
  users: Buffer
}

const ZERO = 0x30
const NINE = 0x39
const DASH = 0x2d
const MAX_BIGINT = Buffer.from('9223372036854775807')
const REPO = Buffer.from('repo')
const ORG = Buffer.from('org')
const USER = Buffer.from('User')
const ORGANIZATION = Buffer.from('Organization')
const HTTP = Buffer.from('http://')
const HTTPS = Buffer.from('https://')

/** A growing output buffer. */
class Bytes {
  buf: Buffer
  length = 0
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size)
  }
  room(more: number): void {
    if (this.length + more <= this.buf.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + more))
    this.buf.copy(grown, 0, 0, this.length)
    this.buf = grown
  }
  copy(src: Uint8Array, start: number, end: number): void {
    this.room(end - start)
    this.length += Buffer.prototype.copy.call(src, this.buf, this.length, start, end)
  }
  byte(b: number): void {
    this.room(1)
    this.buf[this.length++] = b
  }
  /** A positive whole number, in ASCII. */
  number(n: number): void {
    let digits = 1
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++
    this.room(digits)
    let at = this.length + digits
    for (let x = n; at > this.length; x = Math.floor(x / 10)) this.buf[--at] = ZERO + (x % 10)
    this.length += digits
  }
}

function equals(buf: Uint8Array, start: number, end: number, word: Uint8Array, from = 0, to = word.length): boolean {
  if (end - start !== to - from) return false
  for (let i = 0; i < to - from; i++) if (buf[start + i] !== word[from + i]) return false
  return true
}

function startsWith(buf: Uint8Array, start: number, end: number, word: Uint8Array): boolean {
  return end - start >= word.length && equals(buf, start, start + word.length, word)
}

function isDigit(b: number): boolean {
  return b >= ZERO && b <= NINE
}

/** A positive whole number in canonical form that fits a bigint. */
function isId(buf: Uint8Array, start: number, end: number): boolean {
  const length = end - start
  if (length === 0 || length > 19 || buf[start] === ZERO) return false
  for (let i = start; i < end; i++) if (!isDigit(buf[i]!)) return false
  if (length < 19) return true
  for (let i = 0; i < 19; i++) {
    if (buf[start + i] !== MAX_BIGINT[i]) return buf[start + i]! < MAX_BIGINT[i]!
  }
  return true
}

const DATE_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9]

/** YYYY-MM-DD in ASCII digits, then anything: Postgres decides whether it is a timestamp. */
function hasDateShape(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < 10 || buf[start + 4] !== DASH || buf[start + 7] !== DASH) return false
  for (const i of DATE_DIGITS) if (!isDigit(buf[start + i]!)) return false
  return true
}

/** Runs of adjacent header positions, so that a record's fields are copied a run at a time. */
function runs(positions: number[]): [number, number][] {
  const out: [number, number][] = []
  for (const p of [...positions].sort((a, b) => a - b)) {
    const last = out.at(-1)
    if (last && last[1] === p - 1) last[1] = p
    else out.push([p, p])
  }
  return out
}

export class LegacyCsvTypedRows extends LegacyCsvRecords {
  /** A record the fast path is not sure of: the import must take the thorough path. */
  doubt = false
  private at = {} as Record<LegacyCsvColumn, number>
  private hookRuns: [number, number][] = []
  private userRuns: [number, number][] = []
  private users = new Bytes(1 << 16)
  // The last user row written, kept back: the next record of the same user replaces it, so a
  // file that lists each user's hooks together yields one row per user.
  private lastUser = -1
  private lastIdStart = 0
  private lastIdEnd = 0
  // The record being checked, and the field content span that field() found.
  private current: Uint8Array = Buffer.alloc(0)
  private recordStart = 0
  private s = 0
  private e = 0

  // The hooks' rows of the input chunk being read.
  private hooks: Bytes | undefined

  constructor() {
    super({ readableObjectMode: true })
  }

  protected override record(buf: Buffer, start: number, end: number, line: number, problem: string | undefined): boolean {
    // In doubt once, the rest of the file is the thorough path's.
    if (this.doubt) return false
    if (this.hookRuns.length === 0) this.layout(this.header!)
    this.ends[this.header!.length - 1] = end
    if (problem !== undefined || !this.fits(buf, start)) {
      this.doubt = true
      return false
    }
    this.hooks ??= new Bytes(buf.length + 1)
    this.writeRuns(this.hooks, this.hookRuns, buf, start)
    this.writeUser(buf, start, line)
    return true
  }

  /** Pushes the chunk's hooks and the users written; the last user stays until the file ends, as the next line may be theirs again. */
  protected override flushRecords(final: boolean): void {
    if (this.doubt) return
    const hooks = this.hooks
    this.hooks = undefined
    const users = this.users
    const keep = final ? users.length : Math.max(this.lastUser, 0)
    // Copied out, so that the buffer is used again and only what was written stays in memory.
    const done = Buffer.from(users.buf.subarray(0, keep))
    users.buf.copyWithin(0, keep, users.length)
    users.length -= keep
    this.lastUser -= keep
    this.lastIdStart -= keep
    this.lastIdEnd -= keep
    if (hooks !== undefined || keep > 0) this.push({ hooks: hooks === undefined ? Buffer.alloc(0) : hooks.buf.subarray(0, hooks.length), users: done } satisfies TypedRows)
  }

  private layout(header: LegacyCsvColumn[]): void {
    header.forEach((c, i) => (this.at[c] = i))
    this.hookRuns = runs(HOOK_FIELDS.map((c) => this.at[c]))
    this.userRuns = runs(USER_FIELDS.map((c) => this.at[c]))
  }

  private fieldStart(start: number, k: number): number {
    return k === 0 ? start : this.ends[k - 1]! + 1
  }

  /** Sets `s` and `e` to field c's content: inside its quotes, if it has them. Empty is null (COPY's force_null). */
  private field(c: LegacyCsvColumn): void {
    const k = this.at[c]
    const s = this.fieldStart(this.recordStart, k)
    const quoted = this.current[s] === QUOTE ? 1 : 0
    this.s = s + quoted
    this.e = this.ends[k]! - quoted
  }

  private present(c: LegacyCsvColumn): boolean {
    this.field(c)
    return this.e > this.s
  }

  private id(c: LegacyCsvColumn): boolean {
    this.field(c)
    return isId(this.current, this.s, this.e)
  }

  private is(c: LegacyCsvColumn, word: Uint8Array): boolean {
    this.field(c)
    return equals(this.current, this.s, this.e, word)
  }

  private isUrl(): boolean {
    this.field('hook_url')
    const { current: record, s, e } = this
    return (startsWith(record, s, e, HTTP) && e - s > HTTP.length) || (startsWith(record, s, e, HTTPS) && e - s > HTTPS.length)
  }

  /** The rules of import-sql.ts's CHECKED_ROWS, or stricter. (Methods, not closures: this runs a million times.) */
  private fits(buf: Uint8Array, start: number): boolean {
    this.current = buf
    this.recordStart = start
    if (!this.id('github_user_id') || !this.id('owner_id') || !this.id('hook_id')) return false
    if (!this.present('login') || !this.present('owner_login')) return false
    const repo = this.is('kind', REPO)
    if (!repo && !this.is('kind', ORG)) return false
    if (!this.is('owner_type', ORGANIZATION) && !(repo && this.is('owner_type', USER))) return false
    if (repo ? !this.id('repo_id') : this.present('repo_id') || this.present('repo_name')) return false
    if (!this.isUrl()) return false
    if (!this.present('created_at')) return true
    return hasDateShape(buf, this.s, this.e)
  }

  /** Copies the fields of `runs` as one CSV row, quotes and all. */
  private writeRuns(out: Bytes, fieldRuns: [number, number][], buf: Uint8Array, start: number): void {
    for (let r = 0; r < fieldRuns.length; r++) {
      const [first, last] = fieldRuns[r]!
      out.copy(buf, this.fieldStart(start, first), this.ends[last]!)
      out.byte(r === fieldRuns.length - 1 ? LF : COMMA)
    }
  }

  private writeUser(buf: Uint8Array, start: number, line: number): void {
    const users = this.users
    this.field('github_user_id')
    const { s: idStart, e: idEnd } = this
    if (this.lastUser >= 0 && equals(users.buf, this.lastIdStart, this.lastIdEnd, buf, idStart, idEnd)) {
      users.length = this.lastUser
    }
    this.lastUser = users.length
    users.number(line)
    users.byte(COMMA)
    // Where the id lands in the row: its run starts at a field boundary of the record.
    const idField = this.at.github_user_id
    for (const [first, last] of this.userRuns) {
      if (first <= idField && idField <= last) {
        const offset = users.length - this.fieldStart(start, first)
        this.lastIdStart = idStart + offset
        this.lastIdEnd = idEnd + offset
      }
      users.copy(buf, this.fieldStart(start, first), this.ends[last]!)
      users.byte(COMMA)
    }
    users.buf[users.length - 1] = LF
  }
}
