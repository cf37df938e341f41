import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { DEMO_STAFF } from '../../src/demo.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import type { World } from '../../src/simulator/world.js'
import { serviceWithGitHub, type Service } from './service.js'
import { signIn } from './sign-in.js'
import { demoWorld } from './simulator.js'

/** The demo world's accounts: a user of the wizard, and the demo's support person and operator. */
export const MONA = 1
export const SAM = 10
export const OLGA = 11

export type Reader = (url: string) => Promise<LightMyRequestResponse>

export interface StaffService extends Service {
  /** Reads pages as this account, signed in on GitHub (undefined: a visitor). */
  as(userId: number | undefined): Promise<Reader>
}

/** The service with the demo's staff, on the demo world unless given; `seedLegacy: false` leaves the legacy tables to the test. */
export async function staffService(t: Test, { seedLegacy = true, world = demoWorld() }: { seedLegacy?: boolean; world?: World } = {}): Promise<StaffService> {
  const service = await serviceWithGitHub(t, world, { staff: DEMO_STAFF }, { seedLegacy })
  const as = async (userId: number | undefined): Promise<Reader> => {
    const cookies: Record<string, string> = userId === undefined ? {} : { [SESSION_COOKIE]: await signIn(service.app, service.sim, userId) }
    return (url: string) => service.app.inject({ url, cookies })
  }
  return { ...service, as }
}
