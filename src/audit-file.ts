import { createHash } from 'node:crypto'

// Checks an audit export (migration/audit-export.ts) with nothing but the file: every line's
// hash is SHA-256 of the hash before it and the event's text, and every line links to the one
// before. An event changed, left out, added or moved breaks the chain at that line. The first
// line's link points before the file (unless the file starts the log): it is reported, so a
// reader holding the previous export can check that the two join.

export type FileCheck =
  | { intact: true; events: number; firstSeq?: number; lastSeq?: number; anchor?: string }
  | { intact: false; events: number; line: number; reason: string }

const HEX32 = /^[0-9a-f]{64}$/
const ZERO = '0'.repeat(64)

export async function verifyAuditLines(lines: AsyncIterable<string>): Promise<FileCheck> {
  let events = 0
  let line = 0
  let previous: { seq: number; hash: string } | undefined
  let first: { seq: number; prevHash: string } | undefined
  const broken = (reason: string): FileCheck => ({ intact: false, events, line, reason })
  for await (const text of lines) {
    line++
    if (text.trim() === '') continue
    let link: { seq?: unknown; prev_hash?: unknown; hash?: unknown; canonical?: unknown }
    try {
      link = JSON.parse(text) as typeof link
    } catch {
      return broken('it is not JSON')
    }
    const { seq, prev_hash: prevHash, hash, canonical } = link
    if (!Number.isSafeInteger(seq) || typeof prevHash !== 'string' || !HEX32.test(prevHash) || typeof hash !== 'string' || !HEX32.test(hash) || typeof canonical !== 'string') {
      return broken('it lacks seq, prev_hash, hash or canonical')
    }
    if (previous === undefined && seq === 1 && prevHash !== ZERO) return broken('the first event of the log links to an event before it')
    if (previous !== undefined && seq !== previous.seq + 1) return broken(`it is event #${String(seq)}, but #${previous.seq + 1} should follow #${previous.seq}`)
    if (previous !== undefined && prevHash !== previous.hash) return broken('its link to the event before it does not match')
    const computed = createHash('sha256').update(Buffer.from(prevHash, 'hex')).update(canonical, 'utf8').digest('hex')
    if (computed !== hash) return broken('its content does not match its hash (changed after it was written)')
    first ??= { seq: seq as number, prevHash }
    previous = { seq: seq as number, hash }
    events++
  }
  if (first === undefined || previous === undefined) return { intact: true, events: 0 }
  return { intact: true, events, firstSeq: first.seq, lastSeq: previous.seq, anchor: first.prevHash }
}
