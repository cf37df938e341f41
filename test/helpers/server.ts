import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import type { Db } from '../../src/db/connect.js'
import { buildServer, type ServerOptions } from '../../src/server.js'
import { sharedKeyPair } from './keys.js'

export const TEST_SESSION_SECRET = 'a-test-session-secret-of-at-least-32-characters'

/** The service as production builds it, on a test database, closed when the test ends. */
export async function testServer(t: Test, db: Db, overrides: Partial<ServerOptions> = {}): Promise<FastifyInstance> {
  const app = await buildServer({
    db,
    logLevel: 'silent',
    publicUrl: 'http://localhost:3000',
    secureCookies: false,
    staff: new Map(),
    sessionSecret: TEST_SESSION_SECRET,
    // Nowhere: tests that talk to GitHub pass a simulator's configuration.
    github: {
      webUrl: 'http://127.0.0.1:9',
      apiUrl: 'http://127.0.0.1:9/api/v3',
      appId: 1,
      appSlug: 'test-app',
      clientId: 'Iv1.test',
      clientSecret: 'test-secret',
      privateKey: sharedKeyPair().privateKey,
      webhookSecret: 'test-webhook-secret',
    },
    legacy: { hookUrl: 'https://ci.example.com/hooks/github' },
    ...overrides,
  })
  t.teardown(() => app.close())
  return app
}
