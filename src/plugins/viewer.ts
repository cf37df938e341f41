import fp from 'fastify-plugin'
import { viewerOf } from '../routes/auth.js'

// Every page shows who is signed in, with a sign-out form that carries its CSRF token.
export const viewerPlugin = fp(async (app) => {
  app.addHook('preHandler', async (request, reply) => {
    const viewer = viewerOf(request)
    reply.locals = { ...reply.locals, viewer, csrf: viewer ? reply.generateCsrf() : undefined }
  })
})
