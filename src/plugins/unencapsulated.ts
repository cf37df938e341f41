import type { FastifyPluginAsync, FastifyPluginOptions } from 'fastify'

/**
 * Lets a plugin's hooks, handlers and decorators apply to the instance that registers it, as
 * fastify-plugin does (that package is only a transitive dependency here, so it is not imported):
 * fastify skips the encapsulation of a plugin function carrying this symbol.
 */
export function unencapsulated<Options extends FastifyPluginOptions>(
  plugin: FastifyPluginAsync<Options>,
): FastifyPluginAsync<Options> {
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true })
}
