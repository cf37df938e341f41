import type { FastifyPluginAsync } from 'fastify'

// GET /rate_limit: the caller's quota, which this request does not spend (as on GitHub).

export const rateLimitRoutes: FastifyPluginAsync = async (app) => {
  app.get('/rate_limit', { config: { rateFree: true } }, async (request) => {
    const { limit, used, remaining, reset } = request.ghRate!
    const core = { limit, used, remaining, reset }
    const search = { limit: 30, used: 0, remaining: 30, reset: Math.ceil(Date.now() / 1000) + 60 }
    return { resources: { core, search, graphql: core }, rate: core }
  })
}
