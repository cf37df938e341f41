import type { FastifyPluginAsync } from 'fastify'

// github.com's web side: OAuth authorization and the app installation pages.
export const webRoutes: FastifyPluginAsync = async () => {}
