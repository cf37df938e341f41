import { Octokit } from 'octokit'
import t from 'tap'
import { ApiLimiter, faultStatus } from '../../../src/simulator/limits.js'
import type { Limits } from '../../../src/simulator/state.js'
import { failure } from '../../helpers/request-error.js'
import { appFor, clientFor, demoWorld, startSimulator } from '../../helpers/simulator.js'

const MONA = 'gho_legacy_mona_0001'
const OCTO = 'gho_legacy_octo_0003'
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }

t.test('every response carries the x-ratelimit headers of its credential; GET /rate_limit is free', async (t) => {
  const sim = await startSimulator(t)
  const mona = clientFor(sim.apiUrl, MONA)
  const before = Math.floor(Date.now() / 1000)
  const first = await mona.request('GET /user')
  t.match(first.headers, { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4999', 'x-ratelimit-used': '1', 'x-ratelimit-resource': 'core' })
  const reset = Number(first.headers['x-ratelimit-reset'])
  t.ok(reset >= before + 3600 && reset <= before + 3602, 'resets an hour after the first request')
  const second = await mona.request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'dotfiles' })
  t.equal(second.headers['x-ratelimit-remaining'], '4998')
  t.equal(second.headers['x-ratelimit-reset'], String(reset), 'the same window')
  const failed = await failure(mona.request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'nope' }))
  t.equal(failed.response?.headers['x-ratelimit-remaining'], '4997', 'refusals count and carry the headers too')
  const { data, headers } = await mona.request('GET /rate_limit')
  t.same(data.rate, { limit: 5000, used: 3, remaining: 4997, reset })
  t.same(data.resources.core, data.rate)
  t.match(data.resources.search, { limit: 30, remaining: 30 })
  t.equal(headers['x-ratelimit-remaining'], '4997', 'asking costs nothing')
  t.equal((await clientFor(sim.apiUrl, OCTO).request('GET /user')).headers['x-ratelimit-remaining'], '4999', 'another token has its own quota')
  t.equal((await clientFor(sim.apiUrl, undefined).request('GET /rate_limit')).data.rate.used, 0, 'anonymous callers are counted by address')
})

t.test('an exhausted quota answers 403 with x-ratelimit-remaining 0, and octokit sees a rate limit', async (t) => {
  const world = demoWorld()
  world.installations = [{ id: 7, account: 'mona', repository_selection: 'all' }]
  const sim = await startSimulator(t, world)
  sim.state.limits.hourlyQuota = 2
  const mona = clientFor(sim.apiUrl, MONA)
  await mona.request('GET /user')
  await mona.request('GET /user')
  const refused = await failure(mona.request('GET /user'))
  t.equal(refused.status, 403)
  t.match(refused.response?.data, { message: 'API rate limit exceeded for user ID 1.', documentation_url: /rate-limits/ })
  t.match(refused.response?.headers, { 'x-ratelimit-remaining': '0', 'x-ratelimit-used': '2', 'x-ratelimit-limit': '2' })

  const seen: number[] = []
  const throttled = new Octokit({
    baseUrl: sim.apiUrl,
    auth: MONA,
    log: quiet,
    retry: { enabled: false },
    throttle: {
      onRateLimit: (retryAfter: number) => {
        seen.push(retryAfter)
        return false
      },
      onSecondaryRateLimit: () => false,
    },
  })
  t.equal((await failure(throttled.request('GET /user'))).status, 403)
  t.equal(seen.length, 1, "octokit's throttling recognizes the primary limit")
  t.ok(seen[0]! > 3500 && seen[0]! <= 3602, 'and waits for the reset')

  sim.state.limits.hourlyQuota = 3
  const app = appFor(sim)
  const inst = await app.getInstallationOctokit(7)
  for (let i = 0; i < 3; i++) await inst.request('GET /installation/repositories')
  t.match(await failure(inst.request('GET /installation/repositories')), { status: 403, message: /exceeded for installation ID 7/ })
  await app.octokit.request('GET /app')
  await app.octokit.request('GET /app')
  t.match(await failure(app.octokit.request('GET /app')), { status: 403, message: /exceeded for the app/ }, 'the JWT has its own quota (one call made the token)')
  const anonymous = clientFor(sim.apiUrl, undefined)
  for (let i = 0; i < 3; i++) await anonymous.request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'dotfiles' })
  t.match(await failure(anonymous.request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'dotfiles' })), { status: 403, message: /exceeded for 127\.0\.0\.1/ })
})

t.test('the quota window starts again after an hour', async (t) => {
  const limits: Limits = { hourlyQuota: 1, concurrentPerToken: 1, writesPerMinute: 1 }
  const limiter = new ApiLimiter(() => limits)
  t.match(limiter.consume('k', 0, true), { used: 1, remaining: 0, exceeded: false, reset: 3600 })
  t.match(limiter.consume('k', 1000, true), { exceeded: true, remaining: 0 })
  t.match(limiter.consume('k', 3600_000, true), { used: 1, exceeded: false, reset: 7200 })
  t.match(limiter.consume('k', 3600_001, false), { used: 1, exceeded: false }, 'a free request is not refused')
  limits.hourlyQuota = 0
  t.match(limiter.consume('other', 0, true), { remaining: 0, exceeded: true })
})

t.test('writes a minute: the oldest write leaving the window lets the next one in', async (t) => {
  const limits: Limits = { hourlyQuota: 1, concurrentPerToken: 1, writesPerMinute: 2 }
  const limiter = new ApiLimiter(() => limits)
  t.equal(limiter.write('k', 0), 0)
  t.equal(limiter.write('k', 30_000), 0)
  t.equal(limiter.write('k', 45_000), 15, 'wait until the first write is a minute old')
  t.equal(limiter.write('k', 59_999_5 / 10), 1, 'at least a second')
  t.equal(limiter.write('k', 60_000), 0)
})

t.test('too many requests in flight for one token: 403 secondary rate limit with retry-after', async (t) => {
  const sim = await startSimulator(t)
  sim.state.limits.concurrentPerToken = 2
  sim.state.faults.latencyMs = 300
  const mona = clientFor(sim.apiUrl, MONA)
  const results = await Promise.allSettled([1, 2, 3, 4].map(() => mona.request('GET /user')))
  const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as { status: number; message: string; response: { headers: Record<string, string> } })
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 2)
  t.equal(refused.length, 2)
  t.match(refused[0], { status: 403, message: /You have exceeded a secondary rate limit/ })
  t.equal(refused[0]!.response.headers['retry-after'], '1')
  t.equal((await clientFor(sim.apiUrl, OCTO).request('GET /user')).status, 200, 'other tokens are not held up')
  t.equal((await mona.request('GET /user')).status, 200, 'once the others are done, the token works again')

  const waits: number[] = []
  const throttled = new Octokit({
    baseUrl: sim.apiUrl,
    auth: MONA,
    log: quiet,
    retry: { enabled: false },
    throttle: {
      retryAfterBaseValue: 50,
      onRateLimit: () => false,
      onSecondaryRateLimit: (retryAfter: number, _options: unknown, _octokit: unknown, retryCount: number) => {
        waits.push(retryAfter)
        return retryCount < 5
      },
    },
  })
  const all = await Promise.all([1, 2, 3].map(() => throttled.request('GET /user')))
  t.same(all.map((r) => r.status), [200, 200, 200], "octokit's throttling retries after retry-after and gets through")
  t.ok(waits.length >= 1 && waits.every((w) => w === 1))
})

t.test('too many writes a minute for one token: 429 secondary rate limit with retry-after', async (t) => {
  const sim = await startSimulator(t)
  sim.state.limits.writesPerMinute = 2
  const mona = clientFor(sim.apiUrl, MONA)
  await mona.request('DELETE /repos/{owner}/{repo}/hooks/{hook_id}', { owner: 'mona', repo: 'site', hook_id: 5001 })
  await mona.request('DELETE /repos/{owner}/{repo}/hooks/{hook_id}', { owner: 'mona', repo: 'site', hook_id: 5002 })
  const refused = await failure(mona.request('DELETE /repos/{owner}/{repo}/hooks/{hook_id}', { owner: 'mona', repo: 'dotfiles', hook_id: 5000 }))
  t.equal(refused.status, 429)
  t.match(refused.message, /secondary rate limit/)
  const retryAfter = Number(refused.response?.headers['retry-after'])
  t.ok(retryAfter >= 59 && retryAfter <= 60, 'the first write leaves the window in a minute')
  t.ok(sim.state.repos.get(1000)!.hooks.has(5000), 'the refused write did nothing')
  t.equal((await mona.request('GET /user')).status, 200, 'reads go on')

  let seen = 0
  const throttled = new Octokit({
    baseUrl: sim.apiUrl,
    auth: MONA,
    log: quiet,
    retry: { enabled: false },
    throttle: { onRateLimit: () => false, onSecondaryRateLimit: () => void seen++ },
  })
  t.equal((await failure(throttled.request('DELETE /repos/{owner}/{repo}/hooks/{hook_id}', { owner: 'mona', repo: 'dotfiles', hook_id: 5000 }))).status, 429)
  t.equal(seen, 1, "octokit's throttling recognizes the 429 as a secondary limit")
  const app = appFor(sim).octokit
  for (let i = 0; i < 3; i++) await app.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: sim.state.install(1, 'all', []).installation.id })
  t.pass('creating installation tokens is not a write that counts')
})

t.test('faults: latency on every response', async (t) => {
  const sim = await startSimulator(t)
  sim.state.faults.latencyMs = 150
  const mona = clientFor(sim.apiUrl, MONA)
  let start = Date.now()
  await mona.request('GET /user')
  t.ok(Date.now() - start >= 145, 'a success')
  start = Date.now()
  await failure(mona.request('GET /repos/{owner}/{repo}', { owner: 'x', repo: 'y' }))
  t.ok(Date.now() - start >= 145, 'an error')
})

t.test('faults: an error status at a rate for a route', async (t) => {
  const world = demoWorld()
  world.installations = [{ id: 7, account: 'mona', repository_selection: 'all' }]
  const sim = await startSimulator(t, world)
  const dice = [0.1, 0.9]
  sim.state.random = () => dice.shift() ?? 0.99
  sim.state.faults.errors = [{ method: 'GET', pattern: '/installation/repositories', status: 502, rate: 0.5 }]
  const inst = await appFor(sim).getInstallationOctokit(7)
  const failed = await failure(inst.request('GET /installation/repositories'))
  t.match(failed, { status: 502, response: { data: { message: 'Bad Gateway' } } })
  t.equal((await inst.request('GET /installation/repositories')).status, 200, 'the dice said no the second time')
  t.equal((await clientFor(sim.apiUrl, MONA).request('GET /user')).status, 200, 'other routes are untouched')

  dice.push(0.1, 0.9)
  const retried = new Octokit({ baseUrl: sim.apiUrl, auth: MONA, log: quiet, throttle: { enabled: false }, retry: { retryAfterBaseValue: 1 } })
  sim.state.faults.errors = [{ method: '*', pattern: 'GET /repos/{owner}/{repo}', status: 500, rate: 0.5 }]
  t.equal((await retried.request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'site' })).status, 200, "octokit's retry gets through a 500")
  t.same(sim.state.apiLog.filter((e) => e.path === '/repos/mona/site').map((e) => e.status), [500, 200])
})

t.test("faults: an error for one user's requests only", async (t) => {
  const sim = await startSimulator(t)
  const set = await sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors: [{ pattern: '/user', status: 503, rate: 1, actor: 'Octo' }] } })
  t.equal(set.statusCode, 200)
  t.match(await failure(clientFor(sim.apiUrl, 'gho_legacy_octo_0003').request('GET /user')), { status: 503 }, "octo's token fails")
  t.equal((await clientFor(sim.apiUrl, MONA).request('GET /user')).status, 200, "mona's does not")
  t.equal((await sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors: [{ pattern: '/user', status: 503, rate: 1, actor: '' }] } })).statusCode, 400)
})

t.test('faults: how a pattern names a route', async (t) => {
  const faults = (pattern: string, method = '*') => ({ latencyMs: 0, installationTokenLag: false, errors: [{ method, pattern, status: 503, rate: 1 }] })
  const always = () => 0
  const route = '/api/v3/repos/:owner/:repo/hooks/:hook_id'
  const path = '/api/v3/repos/acme/api/hooks/5100'
  t.equal(faultStatus(faults('/repos/{owner}/{repo}/hooks/{hook_id}'), 'DELETE', route, path, always), 503, "GitHub's docs' template")
  t.equal(faultStatus(faults('/repos/:o/:r/hooks/:id'), 'DELETE', route, path, always), 503, "fastify's template")
  t.equal(faultStatus(faults('/repos/acme/api/hooks/5100'), 'DELETE', route, path, always), 503, 'the concrete path')
  t.equal(faultStatus(faults('/api/v3/repos/acme/api/hooks/5100'), 'DELETE', route, path, always), 503, 'with the API prefix')
  t.equal(faultStatus(faults('DELETE /repos/{owner}/{repo}/hooks/{hook_id}'), 'DELETE', route, path, always), 503, 'with the method in front')
  t.equal(faultStatus(faults('GET /repos/{owner}/{repo}/hooks/{hook_id}'), 'DELETE', route, path, always), undefined, 'another method in front')
  t.equal(faultStatus(faults('/repos/{owner}/{repo}/hooks/{hook_id}', 'get'), 'DELETE', route, path, always), undefined, 'another method')
  t.equal(faultStatus(faults('/repos/{owner}/{repo}/hooks/{hook_id}', ''), 'DELETE', route, path, always), 503, 'no method: any')
  t.equal(faultStatus(faults('/repos/{owner}/{repo}/hooks'), 'DELETE', route, path, always), undefined, 'another route')
  t.equal(faultStatus(faults('/repos/acme/web/hooks/5100'), 'DELETE', route, path, always), undefined, 'another path')
  t.equal(faultStatus({ ...faults('/x'), errors: [{ method: '*', pattern: '/repos/acme/api/hooks/5100', status: 503, rate: 0 }] }, 'DELETE', route, path, () => 0), undefined, 'rate 0: never')
})

t.test('faults: the first call with a new installation token answers 401, as replication lag does', async (t) => {
  const world = demoWorld()
  world.installations = [{ id: 7, account: 'mona', repository_selection: 'all' }]
  const sim = await startSimulator(t, world)
  sim.state.faults.installationTokenLag = true
  const app = appFor(sim)
  const { data } = await app.octokit.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: 7 })
  const plain = clientFor(sim.apiUrl, data.token)
  t.match(await failure(plain.request('GET /installation/repositories')), { status: 401, message: /Bad credentials/ })
  t.equal((await plain.request('GET /installation/repositories')).status, 200, 'a second call succeeds')

  const inst = await app.getInstallationOctokit(7)
  const started = Date.now()
  t.equal((await inst.request('GET /repos/{owner}/{repo}/hooks', { owner: 'mona', repo: 'site' })).status, 200, "octokit's App retries the 401 of a fresh token")
  t.ok(Date.now() - started >= 900, 'after a second')
  const log = sim.state.apiLog.filter((e) => e.path === '/repos/mona/site/hooks').map((e) => e.status)
  t.same(log, [401, 200])
  sim.state.faults.installationTokenLag = false
  const { data: later } = await app.octokit.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: 7 })
  t.equal((await clientFor(sim.apiUrl, later.token).request('GET /installation/repositories')).status, 200, 'switched off: no lag')
})

t.test('every breach of a limit is counted in GET /_sim/state, with who, what, and never the token', async (t) => {
  const world = demoWorld()
  world.installations = [{ id: 7, account: 'mona', repository_selection: 'all' }]
  const sim = await startSimulator(t, world)
  const breaches = async () => ((await (await fetch(`${sim.url}/_sim/state`)).json()) as any).breaches
  const mona = clientFor(sim.apiUrl, MONA)
  await mona.request('GET /user')
  await mona.request('DELETE /repos/{owner}/{repo}/hooks/{hook_id}', { owner: 'mona', repo: 'site', hook_id: 5001 })
  t.same(await breaches(), { concurrent: 0, writes: 0, quota: 0, total: 0, last: [] }, 'none after requests within the limits')

  sim.state.limits.writesPerMinute = 1
  await failure(mona.request('DELETE /repos/{owner}/{repo}/hooks/{hook_id}', { owner: 'mona', repo: 'site', hook_id: 5002 }))
  sim.state.limits.concurrentPerToken = 1
  sim.state.faults.latencyMs = 200
  const inst = await appFor(sim).getInstallationOctokit(7)
  await Promise.allSettled([1, 2].map(() => inst.request('GET /installation/repositories')))
  sim.state.faults.latencyMs = 0
  sim.state.limits.hourlyQuota = 0
  await failure(clientFor(sim.apiUrl, undefined).request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: 'dotfiles' }))
  const seen = await breaches()
  t.match(seen, {
    concurrent: 1,
    writes: 1,
    quota: 1,
    total: 3,
    last: [
      { limit: 'writes', tokenKind: 'legacy', actor: 'mona', method: 'DELETE', path: '/repos/mona/site/hooks/5002' },
      { limit: 'concurrent', tokenKind: 'installation', actor: 'installation 7', method: 'GET', path: '/installation/repositories' },
      { limit: 'quota', tokenKind: 'none', method: 'GET', path: '/repos/mona/dotfiles' },
    ],
  })
  t.notOk('actor' in seen.last[2], 'no credential, no actor')
  t.notOk(JSON.stringify(seen).includes(MONA), 'never a token')
  t.match(seen.last[0].at, /^\d{4}-\d\d-\d\dT/)
})

t.test('the breach list keeps the 50 most recent, the counts every one', async (t) => {
  const sim = await startSimulator(t)
  sim.state.limits.hourlyQuota = 0
  const mona = clientFor(sim.apiUrl, MONA)
  for (let i = 0; i < 52; i++) await failure(mona.request('GET /repos/{owner}/{repo}', { owner: 'mona', repo: `r${i}` }))
  t.equal(sim.state.breaches.total, 52)
  t.equal(sim.state.breaches.last.length, 50)
  t.equal(sim.state.breaches.last[0]!.path, '/repos/mona/r2')
})
