import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { StaffRole } from '../config.js'
import type { Database } from '../db/database.js'
import { appendAudit } from '../migration/audit.js'
import { roleCovers, staffStanding } from '../migration/staff-members.js'
import { viewerOf } from '../routes/auth.js'
import { HttpError } from './error-handler.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least role that may use a /staff route; every one of them names it. */
    staff?: StaffRole
    /** The route hands out a file: recorded as an export rather than a page view. */
    staffExport?: boolean
  }
  interface FastifyInstance {
    /** Every staff route and the least role that may use it, as registered. */
    staffRoutes: { method: string; url: string; role: StaffRole }[]
  }
  interface FastifyRequest {
    /** Set on /staff routes, for the staff member using them. */
    staffRole?: StaffRole
  }
}

export interface StaffAccessOptions {
  db: Kysely<Database>
  /** STAFF: login (lower case) to role. */
  staff: ReadonlyMap<string, StaffRole>
}

/** What any address without a page answers, so that the console's addresses give nothing away. */
const NOT_FOUND = 'There is no page at this address.'

function isStaffPath(path: string): boolean {
  return path === '/staff' || path.startsWith('/staff/') || path.startsWith('/staff?')
}

// On the root instance rather than on the staff routes, so that every /staff address is closed,
// including addresses that match no route; in onRequest, so that nothing (not even the query's
// validation) answers a stranger differently from an address with no page. Each staff page
// view is on the record before the page is made.
export const staffAccessPlugin = fp<StaffAccessOptions>(async (app, { db, staff }) => {
  app.decorateRequest('staffRole', undefined)
  const routes: FastifyInstance['staffRoutes'] = []
  app.decorate('staffRoutes', routes)
  app.addHook('onRoute', (route) => {
    if (!isStaffPath(route.url)) return
    const role = route.config?.staff
    if (role === undefined) throw new Error(`${route.url}: a staff route must name the least role that may use it`)
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url, role })
  })
  app.addHook('onRequest', async (request) => {
    // The matched route's pattern, so an address spelled differently (percent-encoded
    // letters) that the router still sends to a staff route is checked as well.
    if (!isStaffPath(request.routeOptions.url ?? request.url)) return
    const viewer = viewerOf(request)
    const standing = await staffStanding(db, staff, viewer)
    if (standing.kind === 'other_account') {
      await appendAudit(db, {
        actor: { kind: 'user', githubId: viewer!.id, login: viewer!.login },
        action: 'staff_refused',
        outcome: 'rejected',
        reason: `The staff login ${viewer!.login} belongs to GitHub account ${standing.pinnedTo}, which used it first; this is account ${viewer!.id}.`,
        requestId: request.id,
      })
    }
    const needed = request.routeOptions.config.staff
    if (standing.kind !== 'staff' || needed === undefined || !roleCovers(standing.role, needed)) throw new HttpError(404, NOT_FOUND)
    request.staffRole = standing.role
    const action = request.routeOptions.config.staffExport === true ? 'staff_export' : 'staff_view'
    await appendAudit(db, { actor: { kind: 'staff', githubId: viewer!.id, login: viewer!.login }, action, outcome: 'ok', requestId: request.id, detail: { role: standing.role, method: request.method, url: request.url } })
  })
})
