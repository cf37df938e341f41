import t from 'tap'
import { limitSignal, type ParkTiming } from '../../src/github/rate-limit-signals.js'

const timing: ParkTiming = { secondaryParkMs: 60_000, maxSecondaryParkMs: 16 * 60_000, retryAfterUnitMs: 1000 }
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0)
const at = (seconds: number): string => String(NOW / 1000 + seconds)

function signal(status: number, headers: Record<string, string>, body = '', count = 0) {
  return limitSignal(status, new Headers(headers), body, count, timing, NOW)
}

t.test('a spent primary quota parks until its reset, whether or not this answer was refused', async (t) => {
  t.same(signal(200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': at(120) }), { parkMs: 120_000, refused: false, parkCount: 0 }, 'the last request of the hour went through')
  t.same(signal(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': at(30) }, 'API rate limit exceeded for user ID 1.', 2), { parkMs: 30_000, refused: true, parkCount: 2 })
  t.same(signal(429, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': at(-5) }), { parkMs: 0, refused: true, parkCount: 0 }, 'a reset already past: no wait')
  t.same(signal(200, { 'x-ratelimit-remaining': '17', 'x-ratelimit-reset': at(30) }), { parkMs: 0, refused: false, parkCount: 0 })
})

t.test('retry-after: that many seconds (or until that date), and the run of secondary limits grows', async (t) => {
  t.same(signal(403, { 'retry-after': '7', 'x-ratelimit-remaining': '4000' }, 'You have exceeded a secondary rate limit.'), { parkMs: 7000, refused: true, parkCount: 1 })
  t.same(signal(429, { 'retry-after': new Date(NOW + 90_000).toUTCString() }, '', 1), { parkMs: 90_000, refused: true, parkCount: 2 })
  t.same(signal(429, { 'retry-after': 'soon' }), { parkMs: 60_000, refused: true, parkCount: 1 }, 'unreadable: as if absent')
})

t.test('a secondary limit without retry-after: a minute, doubled for each one in a row, at most 16 minutes', async (t) => {
  const message = 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.'
  t.same(signal(403, {}, message), { parkMs: 60_000, refused: true, parkCount: 1 })
  t.same(signal(403, {}, message, 1), { parkMs: 120_000, refused: true, parkCount: 2 })
  t.same(signal(429, {}, '', 3), { parkMs: 480_000, refused: true, parkCount: 4 })
  t.same(signal(429, {}, '', 9), { parkMs: 960_000, refused: true, parkCount: 10 })
  t.same(signal(403, {}, 'You have triggered an abuse detection mechanism.'), { parkMs: 60_000, refused: true, parkCount: 1 })
})

t.test('a 403 for a permission, a scope or single sign-on is no limit, and ends a run of them', async (t) => {
  t.same(signal(403, { 'x-ratelimit-remaining': '4999', 'x-ratelimit-reset': at(3000) }, 'Resource not accessible by integration', 3), { parkMs: 0, refused: false, parkCount: 0 })
  t.same(signal(404, {}, '', 2), { parkMs: 0, refused: false, parkCount: 0 })
})
