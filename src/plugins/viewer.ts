import fp from 'fastify-plugin'
import type { StaffRole } from '../config.js'
import { viewerOf } from '../routes/auth.js'

export interface ViewerOptions {
  /** STAFF, for the header's link to the console (the console checks access itself). */
  staff: ReadonlyMap<string, StaffRole>
}

// Every page shows who is signed in, with a sign-out form that carries its CSRF token. In
// onRequest, right after the session is loaded and before the staff console's check: the 404
// that check answers a signed-in customer must show them signed in, as any missing page does,
// or the console's addresses would stand out.
export const viewerPlugin = fp<ViewerOptions>(async (app, { staff }) => {
  app.addHook('onRequest', async (request, reply) => {
    const viewer = viewerOf(request)
    const staffRole = viewer === undefined ? undefined : staff.get(viewer.login.toLowerCase())
    reply.locals = { ...reply.locals, viewer, staffRole, csrf: viewer ? reply.generateCsrf() : undefined }
  })
})
