import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import fastifyView from '@fastify/view'
import { Eta } from 'eta'
import { unencapsulated } from './unencapsulated.js'

/**
 * The project's root: the nearest folder above `from` holding package.json. Templates are not
 * copied by tsc, so this module finds views/ there whether it runs from src/ or dist/src/.
 */
export function projectRoot(from: string | URL = import.meta.url): string {
  let dir = path.dirname(fileURLToPath(from))
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(from)}`)
    dir = parent
  }
  return dir
}

export interface ViewsOptions {
  /** Values every template sees as `it.<name>`, unless the page passes its own. */
  defaultContext: Record<string, unknown>
}

export const viewsPlugin = unencapsulated<ViewsOptions>(async (app, options) => {
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
