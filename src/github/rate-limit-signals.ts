// What one of GitHub's answers says about the credential's rate limits, read as GitHub's REST
// guidance says to ("Rate limits for the REST API", "Best practices"): a primary limit is spent
// when x-ratelimit-remaining is 0, until x-ratelimit-reset (epoch seconds); a secondary limit is
// a 403 or 429 with retry-after (wait that long), or without it (wait at least a minute, then
// exponentially longer while the refusals go on).

export interface ParkTiming {
  /** A secondary limit without retry-after parks this long, doubled for each one met in a row. */
  secondaryParkMs: number
  /** The longest such park. */
  maxSecondaryParkMs: number
  /** What one second of retry-after is (1000; tests make GitHub's seconds a few ms). */
  retryAfterUnitMs: number
}

export interface LimitSignal {
  /** How long the lane must wait before its next request; 0 for no limit. */
  parkMs: number
  /** GitHub refused this request for a limit: it was not carried out. */
  refused: boolean
  /** Secondary limits met in a row, counting this answer. */
  parkCount: number
}

const SECONDARY_MESSAGE = /secondary rate limit|abuse detection/i

/** Seconds (GitHub's form) or an HTTP date, as ms from now; undefined when absent or unreadable. */
function retryAfterMs(value: string | null, unitMs: number, nowMs: number): number | undefined {
  if (value === null) return undefined
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * unitMs
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs)
}

/**
 * The limit in an answer. `body` is needed only for a 403 or 429 without limit headers, where
 * GitHub's message alone tells a secondary limit from a permission refusal.
 */
export function limitSignal(status: number, headers: Headers, body: string, parkCount: number, timing: ParkTiming, nowMs: number): LimitSignal {
  const reset = Number(headers.get('x-ratelimit-reset'))
  const spent = headers.get('x-ratelimit-remaining') === '0' && Number.isFinite(reset) && reset > 0
  const untilReset = spent ? Math.max(0, reset * 1000 - nowMs) : undefined
  if (status === 403 || status === 429) {
    const wait = retryAfterMs(headers.get('retry-after'), timing.retryAfterUnitMs, nowMs)
    if (wait !== undefined) return { parkMs: wait, refused: true, parkCount: parkCount + 1 }
    if (untilReset !== undefined) return { parkMs: untilReset, refused: true, parkCount }
    if (status === 429 || SECONDARY_MESSAGE.test(body)) {
      return { parkMs: Math.min(timing.maxSecondaryParkMs, timing.secondaryParkMs * 2 ** parkCount), refused: true, parkCount: parkCount + 1 }
    }
  }
  return { parkMs: untilReset ?? 0, refused: false, parkCount: 0 }
}
