import { Readable } from 'node:stream'
import { sql } from 'kysely'
import { connect } from '../../src/db/connect.js'
import { migrateToLatest } from '../../src/db/migrator.js'
import { DEFAULT_LANE_TUNING } from '../../src/github/lanes.js'
import { importLegacyCsv } from '../../src/legacy/import.js'
import { coveredHooks, sweepTasks } from '../../src/migration/cleanup-task.js'
import { recordInstallation } from '../../src/migration/installations.js'
import { legacyCsvFromWorld } from '../../src/legacy/world-seed.js'
import { benchServer } from './bench-server.js'
import { buildSimulator } from '../../src/simulator/server.js'
import { crowdWorld } from './crowd-world.js'
import type { SummaryRow } from './summary.js'

// Removing the old hooks of many users at once: organizations of 20 vendor users, each user with
// `hooksPerUser` repositories of the organization, each with its legacy hook, and the App on all
// of every organization; every hook has its task, and one cleanup job per owner is sent, as
// coverage checks do. One service instance,
// production settings (writes of a credential 1 s apart, 8 requests in flight), the simulator
// answering `latencyMs` late. The bound is what the lanes allow: each user's deletes a second
// apart (their chain), and every request of the run through 8 slots at `latencyMs` each; the
// run can be no faster than the slower of the two.

export interface CleanupFigures {
  users: number
  hooks: number
  latencyMs: number
  wallMs: number
  removed: number
  /** Every GitHub request of the run, and those per removed hook. */
  requests: number
  requestsPerHook: number
  boundMs: number
  /** The bound's rate over the measured rate: 1 is as fast as the lanes allow. */
  ratio: number
  breaches: number
}

export async function benchCleanup(databaseUrl: string, options: { users?: number; hooksPerUser?: number; latencyMs?: number } = {}): Promise<CleanupFigures> {
  const users = options.users ?? 500
  const hooksPerUser = options.hooksPerUser ?? 20
  const latencyMs = options.latencyMs ?? 50
  // Organizations of 20 vendor users each, every user with `hooksPerUser` repositories there that
  // they administer (they enabled them), and the App on all of each organization.
  const orgs = Math.max(1, Math.ceil(users / 20))
  const world = crowdWorld({ users, orgs, personalRepos: 0, orgReposPerUser: hooksPerUser })
  for (const repo of world.repos) repo.collaborators = { [repo.name.replace(/-svc-\d+$/, '')]: 'admin' }
  world.installations = world.orgs!.map((o, i) => ({ id: 900_000 + i, account: o.login, repository_selection: 'all' as const }))
  const simulator = await buildSimulator({ logLevel: 'silent', world: structuredClone(world) })
  await simulator.app.listen({ host: '127.0.0.1', port: 0 })
  const address = simulator.app.server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  simulator.state.faults.latencyMs = latencyMs

  const db = connect(databaseUrl, { max: 20 })
  try {
    await migrateToLatest(db.db)
    const seeded = await importLegacyCsv(db.pool, Readable.from([legacyCsvFromWorld(world)]), { fileName: 'cleanup', onProblem: () => {} })
    if (seeded.status !== 'imported') throw new Error('the cleanup world does not import')
    // What the operator's sweep records before it runs: each installation, and a task for every
    // hook it covers, with their events (the project's own planning, not a shortcut).
    for (const [i, org] of world.orgs!.entries()) {
      const installation = { id: 900_000 + i, accountId: org.id, accountLogin: org.login, repositorySelection: 'all' as const, suspendedAt: null }
      const listed = world.repos.filter((r) => r.owner === org.login).map((r) => ({ id: r.id, name: r.name }))
      const hooks = await coveredHooks(db.db, installation, listed)
      await db.db.transaction().execute(async (trx) => {
        await recordInstallation(trx, installation)
        await sweepTasks(trx, installation, hooks, { kind: 'system', login: 'cleanup bench' })
      })
    }
    const app = await benchServer(db, world, url, simulator.keys.privateKey)
    await app.ready()
    const owners = world.orgs!.map((o) => o.id)
    const started = performance.now()
    try {
      await db.db.transaction().execute(async (trx) => {
        for (const ownerId of owners) await app.queue.send(trx, 'cleanup', { ownerId }, { singletonKey: String(ownerId) })
      })
      app.queue.wake()
      for (;;) {
        const { rows } = await sql<{ open: number }>`select count(*)::int as open from app.cleanup_task where state in ('pending', 'attempting')`.execute(db.db)
        if (rows[0]!.open === 0) break
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
    } finally {
      await app.close()
    }
    const wallMs = performance.now() - started
    const { rows } = await sql<{ removed: number }>`select count(*)::int as removed from app.cleanup_task where state = 'removed'`.execute(db.db)
    const removed = rows[0]!.removed
    const requests = simulator.state.apiLog.length
    const spacing = DEFAULT_LANE_TUNING.writeSpacingMs
    const chainMs = (hooksPerUser - 1) * spacing + 2 * latencyMs
    const capMs = (requests * latencyMs) / DEFAULT_LANE_TUNING.maxInFlight
    const boundMs = Math.max(chainMs, capMs)
    return {
      users,
      hooks: users * hooksPerUser,
      latencyMs,
      wallMs,
      removed,
      requests,
      requestsPerHook: requests / Math.max(1, removed),
      boundMs,
      ratio: boundMs / wallMs,
      breaches: simulator.state.breaches.total,
    }
  } finally {
    await db.close()
    await simulator.app.close()
  }
}

export function cleanupReport(f: CleanupFigures): { text: string; ok: boolean } {
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
  const ok = f.ratio >= 0.9 && f.requestsPerHook <= 2.05 && f.removed === f.hooks && f.breaches === 0
  const text = [
    `cleanup: ${f.hooks.toLocaleString('en-US')} legacy hooks of ${f.users} users, one instance, GitHub ${f.latencyMs} ms late, writes 1 s apart per credential, 8 in flight`,
    `  removed ${f.removed.toLocaleString('en-US')} in ${s(f.wallMs)}: ${(f.removed / (f.wallMs / 1000)).toFixed(1)} hooks/s; the lanes' bound ${s(f.boundMs)}: ${(f.hooks / (f.boundMs / 1000)).toFixed(1)} hooks/s`,
    `  ratio to the bound ${f.ratio.toFixed(2)} (target >= 0.90); requests per removed hook ${f.requestsPerHook.toFixed(3)} (target <= 2.05); breaches ${f.breaches} (target 0)`,
    '',
  ].join('\n')
  return { text, ok }
}

export function cleanupRows(f: CleanupFigures): SummaryRow[] {
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
  return [
    {
      what: `removing old hooks: ${f.hooks.toLocaleString('en-US')} hooks of ${f.users} users, GitHub ${f.latencyMs} ms late, one instance, vs the lanes' bound (each user's deletes 1 s apart, 8 requests in flight)`,
      measured: `**${f.ratio.toFixed(2)}** of the bound (${s(f.wallMs)} vs ${s(f.boundMs)}); ${f.requestsPerHook.toFixed(3)} requests a removed hook; ${f.removed} of ${f.hooks} removed; ${f.breaches} breaches`,
      goal: 'at least 0.90; at most 2.05 requests a hook; every hook removed; 0 breaches',
      met: cleanupReport(f).ok,
    },
  ]
}
