import fp from 'fastify-plugin'
import path from 'node:path'
import fastifyStatic from '@fastify/static'
import fastifyView from '@fastify/view'
import { Eta } from 'eta'
import { projectRoot } from '../project-root.js'

declare module 'fastify' {
  interface FastifyReply {
    /** Merged by @fastify/view into every template's data (its own types leave it out). */
    locals: Record<string, unknown>
  }
}

export interface ViewsOptions {
  /** Values every template sees as `it.<name>`, unless the page passes its own. */
  defaultContext: Record<string, unknown>
}

export const viewsPlugin = fp<ViewsOptions>(async (app, options) => {
  const views = path.join(projectRoot(), 'views')
  await app.register(fastifyView, {
    // Autoescape is Eta's default; stated here because every page relies on it.
    engine: { eta: new Eta({ views, autoEscape: true }) },
    root: views,
    layout: 'layout.eta',
    // Templates are read once per process; without this @fastify/view decides from NODE_ENV.
    production: true,
    defaultContext: options.defaultContext,
  })
  await app.register(fastifyStatic, {
    root: path.join(views, 'assets'),
    prefix: '/assets/',
    index: false,
    decorateReply: false,
  })
})
