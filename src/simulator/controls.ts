import type { FastifyPluginAsync } from 'fastify'

// Test controls under /_sim/.
export const controlRoutes: FastifyPluginAsync = async () => {}
