import fp from 'fastify-plugin'
import { HttpError } from './error-handler.js'

export interface StaffAccessOptions {
  /** Everyone may read the staff pages: the demo only, until staff sign-in exists. */
  open: boolean
}

const CLOSED =
  'The staff console requires staff sign-in, which this service does not offer yet. Until then the staff pages are only available in demo mode.'

function isStaffPath(path: string): boolean {
  return path === '/staff' || path.startsWith('/staff/') || path.startsWith('/staff?')
}

// A hook on the root instance rather than on the staff routes, so that every /staff address
// is closed, including routes added later and addresses that match no route.
export const staffAccessPlugin = fp<StaffAccessOptions>(async (app, options) => {
  if (options.open) return
  app.addHook('onRequest', async (request) => {
    // The matched route's pattern, so an address spelled differently (percent-encoded
    // letters) that the router still sends to a staff route is refused as well.
    if (isStaffPath(request.routeOptions.url ?? request.url)) throw new HttpError(403, CLOSED)
  })
})
