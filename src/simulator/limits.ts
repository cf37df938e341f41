import type { Faults, Limits } from './state.js'

// GitHub's rate limits as a client meets them: the primary hourly quota per credential (with
// the x-ratelimit-* headers), the secondary limits on requests in flight and on writes per
// minute, and the error-rate faults tests switch on. The counters belong to one simulator.

export interface RateStatus {
  limit: number
  used: number
  remaining: number
  /** Epoch seconds when the window starts again. */
  reset: number
  exceeded: boolean
}

const HOUR_MS = 3600_000
const MINUTE_MS = 60_000

export class ApiLimiter {
  private readonly windows = new Map<string, { resetAtMs: number; used: number }>()
  private readonly inFlight = new Map<string, number>()
  private readonly writes = new Map<string, number[]>()

  constructor(private readonly limits: () => Limits) {}

  /** The key's hourly quota, after counting this request when `count` is set. */
  consume(key: string, nowMs: number, count: boolean): RateStatus {
    const limit = this.limits().hourlyQuota
    let window = this.windows.get(key)
    if (window === undefined || window.resetAtMs <= nowMs) {
      window = { resetAtMs: nowMs + HOUR_MS, used: 0 }
      this.windows.set(key, window)
    }
    const exceeded = count && window.used >= limit
    if (count && !exceeded) window.used++
    return { limit, used: window.used, remaining: Math.max(0, limit - window.used), reset: Math.ceil(window.resetAtMs / 1000), exceeded }
  }

  /** Takes a place among the key's requests in flight; false when they are already at the limit. */
  enter(key: string): boolean {
    const n = this.inFlight.get(key) ?? 0
    if (n >= this.limits().concurrentPerToken) return false
    this.inFlight.set(key, n + 1)
    return true
  }

  leave(key: string): void {
    const n = this.inFlight.get(key)! - 1
    if (n === 0) this.inFlight.delete(key)
    else this.inFlight.set(key, n)
  }

  /** Records a write; when the key has written too much this minute, the seconds to wait instead. */
  write(key: string, nowMs: number): number {
    let times = this.writes.get(key)
    if (times === undefined) this.writes.set(key, (times = []))
    while (times.length > 0 && times[0]! <= nowMs - MINUTE_MS) times.shift()
    if (times.length >= this.limits().writesPerMinute) return Math.max(1, Math.ceil((times[0]! + MINUTE_MS - nowMs) / 1000))
    times.push(nowMs)
    return 0
  }
}

export function rateHeaders(status: RateStatus): Record<string, string> {
  return {
    'x-ratelimit-limit': String(status.limit),
    'x-ratelimit-remaining': String(status.remaining),
    'x-ratelimit-used': String(status.used),
    'x-ratelimit-reset': String(status.reset),
    'x-ratelimit-resource': 'core',
  }
}

/** A route template or pattern with its parameter names erased: /repos/{}/{}/hooks. */
function shape(path: string): string {
  return path
    .replace(/^\/api\/v3(?=\/)/, '')
    .replace(/:[^/]+|\{[^}]*\}/g, '{}')
}

/**
 * The status of the first error fault matching this request, if its dice say so. A fault's
 * pattern names a route as GitHub's docs do (/repos/{owner}/{repo}/hooks), as the concrete
 * path (/repos/acme/api/hooks), or either prefixed by the method ("GET /installation/repositories").
 */
export function faultStatus(faults: Faults, method: string, template: string, path: string, random: () => number, actor?: string): number | undefined {
  return matchingFault(faults, method, template, path, random, actor)?.status
}

/** The fault that strikes this request, if one does. */
export function matchingFault(faults: Faults, method: string, template: string, path: string, random: () => number, actor?: string): Faults['errors'][number] | undefined {
  if (faults.errors.length === 0) return undefined
  const routeShape = shape(template)
  const concrete = path.replace(/^\/api\/v3(?=\/)/, '')
  for (const fault of faults.errors) {
    let pattern = fault.pattern.trim()
    let faultMethod = fault.method
    const prefixed = /^([A-Za-z]+)\s+(\S+)$/.exec(pattern)
    if (prefixed) {
      faultMethod = prefixed[1]!
      pattern = prefixed[2]!
    }
    if (faultMethod !== '' && faultMethod !== '*' && faultMethod.toUpperCase() !== method) continue
    if (fault.actor !== undefined && fault.actor.toLowerCase() !== actor?.toLowerCase()) continue
    if (shape(pattern) !== routeShape && pattern.replace(/^\/api\/v3(?=\/)/, '') !== concrete) continue
    if (random() < fault.rate) return fault
  }
  return undefined
}
