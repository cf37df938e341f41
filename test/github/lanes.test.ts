import { createServer, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import t, { type Test } from 'tap'
import { createGitHubLanes, laneKey, type GitHubLanes, type LaneTuning } from '../../src/github/lanes.js'
import { createOctokitClass, type GitHubOctokit } from '../../src/github/octokit.js'
import { tokenFault } from '../../src/github/token-fault.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'
import { startSimulator, type StartedSimulator } from '../helpers/simulator.js'

const MONA = 'gho_legacy_mona_0001'
const OCTO = 'gho_legacy_octo_0003'
const quiet = pino({ level: 'silent' })

interface Bench {
  sim: StartedSimulator
  tdb: TestDatabase
  /** An instance's lanes on the test database (a pool of their own), closed with the test. */
  lanes(tuning?: Partial<LaneTuning>): GitHubLanes
  /** A client of `token` through `lanes`. */
  client(lanes: GitHubLanes, token: string): GitHubOctokit
}

async function bench(t: Test): Promise<Bench> {
  const sim = await startSimulator(t)
  const tdb = await testDatabase(t)
  return {
    sim,
    tdb,
    lanes: (tuning = {}) => {
      const lanes = createGitHubLanes(tdb.pool, { writeSpacingMs: 1, retryAfterUnitMs: 5, secondaryParkMs: 20, ...tuning }, quiet)
      t.teardown(() => lanes.close())
      return lanes
    },
    client: (lanes, token) => new (createOctokitClass({ apiUrl: sim.apiUrl, log: quiet, lanes, retries: 0 }))({ auth: token }),
  }
}

/** Mona's DELETE of a hook that is not there: a write to GitHub's limits, a 404 to the caller. */
function write(octokit: GitHubOctokit, n: number): Promise<number> {
  return octokit
    .request('DELETE /repos/{owner}/{repo}/hooks/{hook_id}', { owner: 'mona', repo: 'dotfiles', hook_id: 900_000 + n })
    .then((r) => r.status)
    .catch((e: { status: number }) => e.status)
}

function statusOf(request: Promise<{ status: number }>): Promise<number> {
  return request.then((r) => r.status).catch((e: { status: number }) => e.status)
}

function apiCalls(sim: StartedSimulator, method: string, actor: string): Date[] {
  return sim.state.apiLog.filter((e) => e.method === method && e.actor === actor).map((e) => e.at)
}

t.test('lane keys name the credential, never hold it', async (t) => {
  const key = laneKey(`token ${MONA}`)
  t.match(key, /^token:[0-9a-f]{16}$/)
  t.notMatch(key, MONA)
  t.equal(laneKey(`bearer ${MONA}`), key, 'the same token is the same lane, however it is sent')
  t.not(laneKey(`token ${OCTO}`), key)
  t.equal(laneKey('bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2lnbmF0dXJl', 500), 'app', "the App's JWT, even from an installation's client")
  t.equal(laneKey('token ghs_installationtoken', 500), 'installation:500', 'every token of one installation')
  t.equal(laneKey(null), 'anonymous')
  const basic = `basic ${Buffer.from('legacy-client:its-secret').toString('base64')}`
  t.match(laneKey(basic), /^oauth-app:[0-9a-f]{16}$/, "an OAuth app's client id and secret: its own lane")
  t.notMatch(laneKey(basic), Buffer.from('legacy-client:its-secret').toString('base64'))
})

t.test('one request at a time per credential, while other credentials go on', async (t) => {
  const b = await bench(t)
  b.sim.state.limits.concurrentPerToken = 1
  b.sim.state.faults.latencyMs = 15
  const lanes = b.lanes()
  const mona = b.client(lanes, MONA)
  const octo = b.client(lanes, OCTO)
  const calls = [...Array(6).keys()].flatMap(() => [statusOf(mona.request('GET /user')), statusOf(octo.request('GET /user/repos'))])
  t.same(await Promise.all(calls), Array(12).fill(200))
  t.equal(b.sim.state.breaches.total, 0, 'GitHub never saw two requests of one token at once')
  t.equal(lanes.slots.peak, 2, "mona's and octo's lanes ran side by side")
})

t.test("writes of one credential are spaced; reads are not held for the spacing", async (t) => {
  const b = await bench(t)
  const lanes = b.lanes({ writeSpacingMs: 40 })
  const mona = b.client(lanes, MONA)
  const started = performance.now()
  const writes = [0, 1, 2, 3].map((n) => write(mona, n))
  t.same(await Promise.all(writes), [404, 404, 404, 404])
  const at = apiCalls(b.sim, 'DELETE', 'mona').map((d) => d.getTime())
  t.equal(at.length, 4)
  for (let i = 1; i < at.length; i++) t.ok(at[i]! - at[i - 1]! >= 40, `write ${i} came ${at[i]! - at[i - 1]!} ms after the one before`)
  t.ok(performance.now() - started >= 120, 'three gaps of 40 ms')

  const slow = b.client(b.lanes({ writeSpacingMs: 5_000 }), MONA)
  await write(slow, 5)
  const read = performance.now()
  await slow.request('GET /user')
  t.ok(performance.now() - read < 2_500, 'a read right after a write does not wait for the spacing')
})

t.test('x-ratelimit-remaining 0 parks the lane until x-ratelimit-reset: nothing is sent over the quota', async (t) => {
  const b = await bench(t)
  b.sim.state.limits.hourlyQuota = 2
  const lanes = b.lanes()
  const mona = b.client(lanes, MONA)
  t.equal((await mona.request('GET /user')).status, 200)
  const last = await mona.request('GET /user')
  t.equal(last.headers['x-ratelimit-remaining'], '0', "GitHub says mona's quota is spent")
  const error = (await mona.request('GET /user/repos').catch((e: unknown) => e)) as { status: number; message: string; response: { headers: Record<string, string> } }
  t.match(error, { status: 429, message: /Not sent: this credential is paused for \d+ s after a GitHub rate limit/ })
  t.ok(Number(error.response.headers['retry-after']) > 3000, 'until the hour is over')
  t.same(tokenFault(error), { kind: 'unavailable', status: 429 }, 'a fault to try again later, as any rate limit')
  t.equal(apiCalls(b.sim, 'GET', 'mona').length, 2, 'the third request never reached GitHub')
  t.equal(b.sim.state.breaches.quota, 0)
  t.equal((await b.client(lanes, OCTO).request('GET /user')).status, 200, "octo's lane goes on")
})

t.test('a secondary limit parks the lane: a short park is waited out and the request sent again', async (t) => {
  const b = await bench(t)
  const lanes = b.lanes({ secondaryParkMs: 30 })
  const mona = b.client(lanes, MONA)
  // GitHub refuses the first attempt with a bare 429 (no retry-after: a minute, here 30 ms).
  const dice = [0, 1]
  b.sim.state.random = () => dice.shift() ?? 1
  b.sim.state.faults.errors = [{ method: '*', pattern: 'GET /user', status: 429, rate: 0.5 }]
  const started = performance.now()
  t.equal((await mona.request('GET /user')).status, 200)
  t.ok(performance.now() - started >= 30, 'after the park')
  t.same(b.sim.state.apiLog.map((e) => e.status), [429, 200])
})

t.test('repeated secondary limits park longer each time; a long park fails fast, and other lanes go on', async (t) => {
  const b = await bench(t)
  // Parks long enough that a slow machine cannot outlive one between two steps (a CI run on a
  // loaded machine spent 100 of 150 ms before the next request); a park is ended by moving its
  // end in the lanes' table, where every instance reads it, not by waiting it out.
  const lanes = b.lanes({ secondaryParkMs: 1000, maxWaitMs: 0 })
  const mona = b.client(lanes, MONA)
  const octo = b.client(lanes, OCTO)
  b.sim.state.faults.errors = [{ method: '*', pattern: '/user', status: 429, rate: 1, actor: 'mona' }]
  const parked = async (): Promise<{ count: number; ms: number }> => {
    const { rows } = await b.tdb.pool.query<{ count: number; ms: number }>(`select park_count as count, extract(epoch from parked_until - now()) * 1000 as ms from app.github_lane`)
    return { count: rows[0]!.count, ms: Number(rows[0]!.ms) }
  }
  const endPark = () => b.tdb.pool.query(`update app.github_lane set parked_until = now()`)
  t.equal(await statusOf(mona.request('GET /user')), 429, "GitHub's refusal reaches the caller: the park is longer than it may wait")
  const once = await parked()
  t.ok(once.count === 1 && once.ms > 0 && once.ms <= 1000, `parked ${once.ms} ms after one refusal`)
  const notSent = await mona.request('GET /user/repos').catch((e: unknown) => e)
  t.match(notSent, { status: 429, message: /Not sent/ }, 'the lane is parked: nothing goes to GitHub')
  t.equal((await octo.request('GET /user')).status, 200, "octo's lane goes on meanwhile")

  await endPark()
  t.equal(await statusOf(mona.request('GET /user')), 429)
  const twice = await parked()
  t.ok(twice.count === 2 && twice.ms > 1000 && twice.ms <= 2000, `twice as long the second time: ${twice.ms} ms`)
  await endPark()
  b.sim.state.faults.errors = []
  t.equal((await mona.request('GET /user')).status, 200)
  t.match(await parked(), { count: 0 }, 'a success ends the run of refusals')
  t.equal(apiCalls(b.sim, 'GET', 'mona').length, 3, 'the request refused by the lane never reached GitHub')
})

t.test('GitHub retry-after: the lane waits that long', async (t) => {
  const b = await bench(t)
  // One write a minute: the second write is refused with retry-after (seconds; 5 ms each here).
  b.sim.state.limits.writesPerMinute = 1
  const lanes = b.lanes({ maxWaitMs: 10_000, maxLimitRetries: 0 })
  const mona = b.client(lanes, MONA)
  t.equal(await write(mona, 1), 404)
  // Timed from before the refusal: the park runs from GitHub's answer.
  const started = performance.now()
  const refused = (await mona.request('DELETE /repos/{owner}/{repo}/hooks/{hook_id}', { owner: 'mona', repo: 'dotfiles', hook_id: 2 }).catch((e: unknown) => e)) as { status: number; response: { headers: Record<string, string> } }
  t.equal(refused.status, 429)
  const seconds = Number(refused.response.headers['retry-after'])
  t.ok(seconds > 0, `GitHub said retry after ${seconds} s`)
  t.equal((await mona.request('GET /user')).status, 200)
  t.ok(performance.now() - started >= seconds * 5, `the next request waited ${seconds} × 5 ms`)
  t.equal(b.sim.state.breaches.writes, 1)
})

t.test('the in-flight cap holds, and a busy lane holds no slot', async (t) => {
  const b = await bench(t)
  b.sim.state.faults.latencyMs = 20
  const lanes = b.lanes({ maxInFlight: 2 })
  const users = [1, 1, 3, 3].map((id) => b.client(lanes, b.sim.state.issueUserToken(id).token))
  const started = performance.now()
  t.same(await Promise.all(users.map((u) => statusOf(u.request('GET /user')))), [200, 200, 200, 200])
  t.equal(lanes.slots.peak, 2, 'never more than two requests in flight')
  t.ok(performance.now() - started >= 40, 'in two rounds')

  // Mona's lane has four requests queued; octo's one request needs only a free slot. Mona's
  // first holds the slot on its way to GitHub until octo waits for it, so that what comes next
  // is decided by the slots alone, not by how fast this machine or its database is.
  const one = b.lanes({ maxInFlight: 1 })
  const mona = b.client(one, MONA)
  const octo = b.client(one, OCTO)
  const realFetch = globalThis.fetch
  let sending!: () => void
  const monaSending = new Promise<void>((resolve) => (sending = resolve))
  let release!: () => void
  const held = new Promise<void>((resolve) => (release = resolve))
  let monaFirst = true
  globalThis.fetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    if (monaFirst && new Headers(init?.headers).get('authorization')?.includes(MONA)) {
      monaFirst = false
      sending()
      await held
    }
    return realFetch(input, init)
  }) as typeof fetch
  t.teardown(() => void (globalThis.fetch = realFetch))
  const done: string[] = []
  const monas = [1, 2, 3, 4].map((n) => mona.request('GET /user').then(() => done.push(`mona ${n}`)))
  await monaSending
  const octoDone = octo.request('GET /user').then(() => done.push('octo'))
  while (one.slots['waiting'].length === 0) await sleep(2)
  release()
  await octoDone
  await Promise.all(monas)
  t.ok(done.indexOf('octo') < 3, `octo was not kept behind mona's queue: ${done.join(', ')}`)
})

t.test('lanes hold across instances: a write spaced after another instance’s write', async (t) => {
  const b = await bench(t)
  const first = b.client(b.lanes({ writeSpacingMs: 60 }), MONA)
  const second = b.client(b.lanes({ writeSpacingMs: 60 }), MONA)
  t.same(await Promise.all([write(first, 1), write(second, 2), write(first, 3), write(second, 4)]), [404, 404, 404, 404])
  const at = apiCalls(b.sim, 'DELETE', 'mona').map((d) => d.getTime())
  for (let i = 1; i < at.length; i++) t.ok(at[i]! - at[i - 1]! >= 60, `write ${i} came ${at[i]! - at[i - 1]!} ms after the one before`)
})

t.test('an instance that dies holding a lane does not block it: Postgres ends the lock with the session', async (t) => {
  const b = await bench(t)
  // The dying instance's request hangs: a server that takes the connection and never answers.
  const sockets: Socket[] = []
  const silent = createServer((socket) => void sockets.push(socket))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    silent.close()
  })
  const port = (silent.address() as { port: number }).port
  const dying = b.lanes({ requestTimeoutMs: 300 })
  const caller = new AbortController()
  const hung = dying.fetchFor()(`http://127.0.0.1:${port}/user`, { headers: { authorization: `token ${MONA}` }, signal: caller.signal }).catch((e: unknown) => e)
  while (sockets.length === 0) await sleep(2)

  const other = b.client(b.lanes(), MONA)
  let answered = false
  const waiting = other.request('GET /user').then((r) => ((answered = true), r.status))
  await sleep(60)
  t.notOk(answered, 'the lane is held by the other instance')
  const { rows } = await b.tdb.pool.query(`select pg_terminate_backend(pid) as ended from pg_locks
      where locktype = 'advisory' and granted and classid = x'6c616e65'::int::oid and objid = hashtext($1)::oid
        and database = (select oid from pg_database where datname = current_database())`, [laneKey(`token ${MONA}`)])
  t.same(rows, [{ ended: true }], "the dying instance's database session ends")
  t.equal(await waiting, 200, 'the other instance takes the lane')
  t.ok(answered)
  t.match(await hung, { name: 'TimeoutError' }, 'the hung request is abandoned at its timeout')
})

t.test('without the lanes in its database, no request goes to GitHub', async (t) => {
  const sim = await startSimulator(t)
  const bare = await testDatabase(t, { migrate: false })
  const lanes = createGitHubLanes(bare.pool, {}, quiet)
  t.teardown(() => lanes.close())
  const mona = new (createOctokitClass({ apiUrl: sim.apiUrl, log: quiet, lanes, retries: 0 }))({ auth: MONA })
  await t.rejects(mona.request('GET /user'), { status: 500, message: /github_lane/ })
  t.same(sim.state.apiLog, [])
  const { rows } = await bare.pool.query(`select count(*)::int as held from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`)
  t.same(rows, [{ held: 0 }], 'and the lane is not left locked')
})

t.test('lanes idle for an hour are forgotten', async (t) => {
  const b = await bench(t)
  const lanes = b.lanes()
  await write(b.client(lanes, MONA), 1)
  await b.tdb.pool.query(`update app.github_lane set updated_at = now() - interval '2 hours'`)
  await write(b.client(lanes, OCTO), 1)
  t.equal(await lanes.prune(), 1, "mona's lane, idle, is gone; octo's, just used, stays")
  await b.tdb.pool.query(`update app.github_lane set updated_at = now() - interval '2 hours'`)
  b.lanes({ pruneEveryMs: 20 })
  while ((await b.tdb.pool.query('select 1 from app.github_lane')).rowCount !== 0) await sleep(10)
  t.pass('and the timer forgets them by itself')
})
