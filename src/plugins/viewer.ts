import fp from 'fastify-plugin'
import type { StaffRole } from '../config.js'
import { viewerOf } from '../routes/auth.js'

export interface ViewerOptions {
  /** STAFF, for the header's link to the console (the console checks access itself). */
  staff: ReadonlyMap<string, StaffRole>
}

// Every page shows who is signed in, with a sign-out form that carries its CSRF token.
export const viewerPlugin = fp<ViewerOptions>(async (app, { staff }) => {
  app.addHook('preHandler', async (request, reply) => {
    const viewer = viewerOf(request)
    const staffRole = viewer === undefined ? undefined : staff.get(viewer.login.toLowerCase())
    reply.locals = { ...reply.locals, viewer, staffRole, csrf: viewer ? reply.generateCsrf() : undefined }
  })
})
