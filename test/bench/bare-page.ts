import path from 'node:path'
import fastifyView from '@fastify/view'
import { Eta } from 'eta'
import Fastify from 'fastify'
import { projectRoot } from '../../src/project-root.js'
import { serveInChild } from './child-server.js'

// The baseline of the wizard page's benchmark: bare fastify and eta, as the service renders
// them (@fastify/view, templates read once, autoescape), no session, no database, no plugin:
// the same repositories under the same owners, padded with a comment to the service page's
// exact size in bytes. Runs as a child process (see child-server.ts).

export interface BareJob {
  owners: { login: string; repos: { name: string; enabledBy: string }[] }[]
  /** The page's size to match, in bytes. */
  bytes: number
}

serveInChild<BareJob>(async ({ owners, bytes }) => {
  const root = path.join(projectRoot(import.meta.url), 'test', 'bench')
  const app = Fastify()
  await app.register(fastifyView, { engine: { eta: new Eta({ views: root, autoEscape: true }) }, root, production: true })
  const data = { title: 'Your migration', owners, pad: '' }
  const unpadded = Buffer.byteLength(await app.view('bare-page.eta', data))
  data.pad = 'x'.repeat(Math.max(0, bytes - unpadded))
  app.get('/', (_request, reply) => reply.view('bare-page.eta', data))
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { port: (app.server.address() as { port: number }).port, close: () => app.close() }
})
