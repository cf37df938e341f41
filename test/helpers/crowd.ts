import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { StartedSimulator } from './simulator.js'

// A crowd of users on several instances of the service at once, against the simulator at its
// strictest: what the crowd benchmark (test/bench/crowd.ts) and the resilience suite's crowd
// (test/resilience/crowd-to-done.resilience.ts) share.

/** Every answer the crowd got, by status. */
export interface Answers {
  byStatus: Map<number, number>
  total: number
  serverErrors: number
  /** Counts `res` and hands it on. */
  count(res: LightMyRequestResponse): LightMyRequestResponse
}

export function answers(): Answers {
  const byStatus = new Map<number, number>()
  return {
    byStatus,
    get total() {
      return [...byStatus.values()].reduce((a, b) => a + b, 0)
    },
    get serverErrors() {
      return [...byStatus].filter(([status]) => status >= 500).reduce((a, [, n]) => a + n, 0)
    },
    count(res) {
      byStatus.set(res.statusCode, (byStatus.get(res.statusCode) ?? 0) + 1)
      return res
    },
  }
}

/**
 * `app` with every inject counted in `seen`, helpers' requests too (followSetup's, press's): the
 * same instance, so it stays one process's lanes and pools.
 */
export function counted(app: FastifyInstance, seen: Answers): FastifyInstance {
  return new Proxy(app, {
    get(target, prop, receiver) {
      if (prop !== 'inject') return Reflect.get(target, prop, receiver) as unknown
      return async (options: InjectOptions | string) => seen.count(await target.inject(options))
    },
  })
}

/** GitHub at its strictest: one request in flight per credential (the secondary limit's), each answered `latencyMs` late. */
export function strictGitHub(sim: Pick<StartedSimulator, 'state'>, latencyMs: number): void {
  sim.state.limits = { ...sim.state.limits, concurrentPerToken: 1 }
  sim.state.faults.latencyMs = latencyMs
}

/** How often the service went past the simulator's limits, by limit; each must be 0. */
export function breachesOf(sim: Pick<StartedSimulator, 'state'>): { concurrent: number; writes: number; quota: number; total: number } {
  const { concurrent, writes, quota, total } = sim.state.breaches
  return { concurrent, writes, quota, total }
}
