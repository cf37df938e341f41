import type { Test } from 'tap'
import { runCleanup } from '../../src/migration/cleanup.js'
import { planTasks } from '../../src/migration/cleanup-task.js'
import type { World } from '../../src/simulator/world.js'
import { githubClientsOf, serviceWithGitHub, type Service } from './service.js'
import { signIn } from './sign-in.js'
import { installedOnMonaAndAcme } from './simulator.js'
import { view } from './wizard.js'

// For the tests of removing the legacy hooks (test/migration/cleanup*.test.ts): mona's world
// with the App installed, her agreement, one run outside the queue, and what came of it.

export const HOOK_URL = 'https://ci.example.com/hooks/github'
export const mona = { kind: 'user' as const, githubId: 1, login: 'mona' }

export const installedWorld = (): World => installedOnMonaAndAcme([1000, 1001, 1002])

/** mona signed in and planned, her coverage checked; nothing agreed yet. */
export async function monaCovered(t: Test, world = installedWorld()): Promise<{ service: Service; cookie: string }> {
  const service = await serviceWithGitHub(t, world)
  const cookie = await signIn(service.app, service.sim, 1)
  await view(service.app, cookie)
  return { service, cookie }
}

/** Tasks for every hook the App covers in mona's batches, as her agreement makes them. */
export async function agreeForMona(service: Service): Promise<number[]> {
  const { db } = service.tdb
  const ids = (await db.selectFrom('app.batch').select('id').where('user_id', '=', 1).execute()).map((b) => b.id)
  return db.transaction().execute((trx) => planTasks(trx, ids, mona, { agreedOnly: false }))
}

/** One cleanup run of the owner, outside the queue; returns the runs it asked for after it. */
export async function runOnce(service: Service, ownerId: number, maxTasks = 100, perUser?: number): Promise<number[]> {
  const again: number[] = []
  const bounds = { maxTasks, ...(perUser === undefined ? {} : { perUser }) }
  await runCleanup(service.tdb.db, githubClientsOf(service, { retryAfterBaseMs: 5 }), ownerId, { hookUrl: HOOK_URL, ...bounds, again: async (_owner, after) => void again.push(after) })
  return again
}

export async function tasks(service: Service) {
  return service.tdb.db.selectFrom('app.cleanup_task').select(['hook_id', 'state', 'credential', 'attempts', 'reason']).orderBy('hook_id').execute()
}

export const outcomes = async (service: Service) => Object.fromEntries((await tasks(service)).map((r) => [r.hook_id, r.state]))

export async function events(service: Service, action: string) {
  return service.tdb.db.selectFrom('app.audit_event').select(['hook_id', 'outcome', 'reason', 'detail']).where('action', '=', action).orderBy('id').execute()
}

/** The hooks GitHub still has on a repository (or an organization). */
export function hooksOn(service: Service, id: number): number[] {
  const { state } = service.sim
  const parent = state.repos.get(id) ?? state.orgs.get(id)
  return [...parent!.hooks.keys()].sort()
}

export function hookRequests(service: Service) {
  return service.sim.state.apiLog.filter((e) => /\/hooks\//.test(e.path))
}
