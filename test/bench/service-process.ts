import { connect } from '../../src/db/connect.js'
import type { World } from '../../src/simulator/world.js'
import { benchServer } from './bench-server.js'
import { serveInChild } from './child-server.js'

// The service in a process of its own (see child-server.ts), as `npm start` runs it: one pool
// of the default size, the job queue and the sealer running, and its info-level request log
// written (to /dev/null: the parent ignores the child's stdout).

export interface ServiceJob {
  databaseUrl: string
  world: World
  simUrl: string
  privateKey: string
}

serveInChild<ServiceJob>(async ({ databaseUrl, world, simUrl, privateKey }) => {
  const db = connect(databaseUrl)
  const app = await benchServer(db, world, simUrl, privateKey, { logLevel: 'info' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return {
    port: (app.server.address() as { port: number }).port,
    close: async () => {
      await app.close()
      await db.close()
    },
  }
})
