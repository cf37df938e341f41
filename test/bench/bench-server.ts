import type { FastifyInstance } from 'fastify'
import type { Db } from '../../src/db/connect.js'
import { legacyConfigOf } from '../../src/demo.js'
import { buildServer, type ServerOptions } from '../../src/server.js'
import type { World } from '../../src/simulator/world.js'
import { simulatedGitHub } from '../helpers/simulator.js'

/** The service as production builds it, quiet, against a simulator of `world` at `simUrl`. */
export function benchServer(db: Db, world: World, simUrl: string, privateKey: string, overrides: Partial<ServerOptions> = {}): Promise<FastifyInstance> {
  return buildServer({
    db,
    logLevel: 'silent',
    publicUrl: 'http://127.0.0.1:3000',
    secureCookies: false,
    staff: new Map(),
    sessionSecret: 'a-bench-session-secret-of-enough-length',
    github: simulatedGitHub(world.app, simUrl, privateKey),
    legacy: legacyConfigOf(world),
    ...overrides,
  })
}
