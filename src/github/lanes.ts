import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import pg from 'pg'
import { sidePool } from '../db/connect.js'
import { InFlightSlots } from './in-flight.js'
import { limitSignal, type ParkTiming } from './rate-limit-signals.js'

// Every GitHub request goes through the lane of its credential, shared by every instance through
// Postgres. One request at a time per lane: a session advisory lock, taken with try-lock on a
// small pool of the lanes' own, so a busy lane waits without holding a connection and Postgres
// ends the lock with the session of an instance that dies. What the next request of the lane
// must wait for (the write spacing, a park after a rate limit) is a row of app.github_lane, read
// and written only while the lock is held. Within one instance a lane's requests queue in order,
// and only the first of them asks Postgres.

export interface LaneTuning extends ParkTiming {
  /** Writes of one credential at least this far apart (GITHUB_WRITE_SPACING_MS). */
  writeSpacingMs: number
  /** This instance's GitHub requests in flight at most (GITHUB_MAX_IN_FLIGHT). */
  maxInFlight: number
  /** The longest park a request waits out; a request facing a longer one fails at once. */
  maxWaitMs: number
  /** Requests refused for a short limit are sent again this many times at most. */
  maxLimitRetries: number
  /** The first wait for a lane busy on another instance; it doubles up to 10 times this. */
  pollMs: number
  /** A request GitHub has not answered in this time is abandoned (GitHub itself gives up after 10 s). */
  requestTimeoutMs: number
  /** Lanes idle for an hour are forgotten this often. */
  pruneEveryMs: number
}

export const DEFAULT_LANE_TUNING: LaneTuning = {
  writeSpacingMs: 1000,
  maxInFlight: 8,
  secondaryParkMs: 60_000,
  maxSecondaryParkMs: 16 * 60_000,
  retryAfterUnitMs: 1000,
  maxWaitMs: 10_000,
  maxLimitRetries: 2,
  pollMs: 10,
  requestTimeoutMs: 30_000,
  pruneEveryMs: 10 * 60_000,
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/** 'lane' in ASCII: the advisory lock space of lanes, apart from any other lock of the service. */
const LOCK_SPACE = 0x6c616e65
const RATE_DOCS = 'https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api'
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/

/**
 * The lane of a request: the App's JWT (whichever client sends it), an installation's token,
 * an OAuth app's Basic credentials, or any other token by a short hash of it, so the credential
 * itself is never kept or shown.
 */
export function laneKey(authorization: string | null, installationId?: number): string {
  // An OAuth app's client id and secret (revoking its grants): the app's own lane.
  const basic = /^\s*basic\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1]
  if (basic !== undefined) return `oauth-app:${createHash('sha256').update(basic).digest('hex').slice(0, 16)}`
  const credential = /^\s*(?:token|bearer)\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1]
  if (credential === undefined) return 'anonymous'
  if (JWT.test(credential)) return 'app'
  if (installationId !== undefined) return `installation:${installationId}`
  return `token:${createHash('sha256').update(credential).digest('hex').slice(0, 16)}`
}

interface LaneState {
  parkMs: number
  writeMs: number
  parkCount: number
}

interface LaneChange {
  wrote: boolean
  parkMs: number
  parkCount: number
  /** The count read when the lane was taken: a success ends a run of secondary limits. */
  parkCountBefore: number
}

/** An answer GitHub never gave: the request was not sent because its lane is parked that long. */
function parkedResponse(waitMs: number): Response {
  const seconds = Math.ceil(waitMs / 1000)
  const body = { message: `Not sent: this credential is paused for ${seconds} s after a GitHub rate limit.`, documentation_url: RATE_DOCS }
  return new Response(JSON.stringify(body), { status: 429, headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': String(seconds) } })
}

export class GitHubLanes {
  readonly slots: InFlightSlots
  private readonly tails = new Map<string, Promise<void>>()
  private readonly pruning: NodeJS.Timeout

  constructor(
    private readonly pool: pg.Pool,
    readonly tuning: LaneTuning,
    private readonly log: FastifyBaseLogger,
  ) {
    this.slots = new InFlightSlots(tuning.maxInFlight)
    this.pruning = setInterval(() => void this.prune().catch((error: unknown) => log.warn({ err: error }, 'GitHub lanes: pruning failed')), tuning.pruneEveryMs).unref()
  }

  /** The fetch of a client; an installation's client names its installation, the lane of its token. */
  fetchFor(installationId?: number): typeof fetch {
    return async (input, init = {}) => {
      const key = laneKey(new Headers(init.headers).get('authorization'), installationId)
      const method = (init.method ?? 'GET').toUpperCase()
      return this.inTurn(key, () => this.send(key, WRITE_METHODS.has(method), input, init))
    }
  }

  /** Forgets lanes unused for an hour and no longer parked. */
  async prune(): Promise<number> {
    const { rowCount } = await this.pool.query(`delete from app.github_lane where updated_at < now() - interval '1 hour' and (parked_until is null or parked_until < now())`)
    return Number(rowCount)
  }

  async close(): Promise<void> {
    clearInterval(this.pruning)
    await this.pool.end()
  }

  /** Runs `work` after every earlier request of the lane in this instance, in order. */
  private async inTurn<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve()
    let done!: () => void
    const tail = before.then(() => new Promise<void>((resolve) => (done = resolve)))
    this.tails.set(key, tail)
    await before
    try {
      return await work()
    } finally {
      done()
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }

  private async send(key: string, write: boolean, input: Parameters<typeof fetch>[0], init: RequestInit): Promise<Response> {
    // Sends again only after a refusal for a limit; waits for spacing or a park do not count.
    let resent = 0
    for (;;) {
      const { client, state } = await this.lock(key)
      const waitMs = Math.max(state.parkMs, write ? state.writeMs : 0)
      if (waitMs > 0) {
        await this.unlock(client, key)
        if (state.parkMs > this.tuning.maxWaitMs) {
          this.log.info({ lane: key, waitMs: Math.round(state.parkMs) }, 'GitHub request not sent: its lane is parked')
          return parkedResponse(state.parkMs)
        }
        await sleep(waitMs)
        continue
      }
      let response: Response
      try {
        await this.slots.take()
        try {
          // Timed from the send, not from the wait for the lane.
          const timeout = AbortSignal.timeout(this.tuning.requestTimeoutMs)
          response = await fetch(input, { ...init, signal: init.signal ? AbortSignal.any([init.signal, timeout]) : timeout })
        } finally {
          this.slots.give()
        }
      } catch (error) {
        // Whether GitHub took a write that got no answer is unknown: it counts as sent.
        await this.unlock(client, key, { wrote: write, parkMs: 0, parkCount: state.parkCount, parkCountBefore: state.parkCount })
        throw error
      }
      const limited = response.status === 403 || response.status === 429
      const signal = limitSignal(response.status, response.headers, limited ? await response.clone().text() : '', state.parkCount, this.tuning, Date.now())
      await this.unlock(client, key, { wrote: write, parkMs: signal.parkMs, parkCount: signal.parkCount, parkCountBefore: state.parkCount })
      if (signal.parkMs > 0) this.log.warn({ lane: key, status: response.status, parkMs: Math.round(signal.parkMs), refused: signal.refused }, 'GitHub rate limit: lane parked')
      if (!signal.refused || resent >= this.tuning.maxLimitRetries || signal.parkMs > this.tuning.maxWaitMs) return response
      resent++
      await response.body?.cancel()
    }
    /* c8 ignore next -- the end of an endless loop, which only returns or throws */
  }

  /** Holds the lane (waiting while another instance does) and reads what it must wait for. */
  private async lock(key: string): Promise<{ client: pg.PoolClient; state: LaneState }> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.pool.connect()
      try {
        const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as locked', [LOCK_SPACE, key])
        if (rows[0]!.locked) {
          // A statement of its own, so that its snapshot is taken after the lock: it sees what
          // the lane's previous holder committed before letting go.
          const lane = await client.query<LaneState>(
            `select greatest(0, extract(epoch from parked_until - now()) * 1000)::float8 as "parkMs",
                    greatest(0, extract(epoch from next_write_at - now()) * 1000)::float8 as "writeMs",
                    park_count as "parkCount"
               from app.github_lane where key = $1`,
            [key],
          )
          return { client, state: lane.rows[0] ?? { parkMs: 0, writeMs: 0, parkCount: 0 } }
        }
        client.release()
      } catch (error) {
        // Destroyed, not returned: a lock it may hold ends with its session.
        client.release(error as Error)
        throw error
      }
      const delay = this.tuning.pollMs * 2 ** Math.min(attempt, 3)
      await sleep(delay / 2 + Math.random() * delay)
    }
    /* c8 ignore next -- the end of an endless loop, which only returns or throws */
  }

  /** Records what the request changed (a write, a park) and lets the lane go. */
  private async unlock(client: pg.PoolClient, key: string, change?: LaneChange): Promise<void> {
    try {
      if (change !== undefined && (change.wrote || change.parkMs > 0 || change.parkCount !== change.parkCountBefore)) {
        await client.query(
          `insert into app.github_lane as lane (key, next_write_at, parked_until, park_count)
           values ($1, case when $2 then now() + $3 * interval '1 millisecond' end, case when $4 > 0 then now() + $4 * interval '1 millisecond' end, $5)
           on conflict (key) do update set
             next_write_at = coalesce(excluded.next_write_at, lane.next_write_at),
             parked_until = coalesce(excluded.parked_until, lane.parked_until),
             park_count = excluded.park_count,
             updated_at = now()`,
          [key, change.wrote, this.tuning.writeSpacingMs, change.parkMs, change.parkCount],
        )
      }
      await client.query('select pg_advisory_unlock($1, hashtext($2))', [LOCK_SPACE, key])
      client.release()
    } catch (error) {
      // The connection is broken: destroying it ends its session, and with it the lock.
      client.release(error as Error)
      this.log.warn({ err: error, lane: key }, 'GitHub lanes: could not record or let go of a lane')
    }
  }
}

/** Lanes on a pool of their own, to the database of `pool`: a held lane keeps a connection. */
export function createGitHubLanes(pool: pg.Pool, tuning: { [K in keyof LaneTuning]?: LaneTuning[K] | undefined }, log: FastifyBaseLogger): GitHubLanes {
  // An unset value (a variable left out) keeps its default.
  const full = { ...DEFAULT_LANE_TUNING, ...Object.fromEntries(Object.entries(tuning).filter(([, value]) => value !== undefined)) }
  // Beyond the requests in flight: a few lanes ready and waiting for a slot, and their pollers.
  const own = sidePool(pool, {
    max: full.maxInFlight + 2,
    applicationName: 'oauth-to-app lanes',
    onError: (error) => log.warn({ err: error }, 'GitHub lanes: database connection lost'),
  })
  return new GitHubLanes(own, full, log)
}
