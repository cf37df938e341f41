import type { FastifyPluginAsync } from 'fastify'

// The REST API under /api/v3.
export const apiRoutes: FastifyPluginAsync = async () => {}
