import type { FastifyPluginAsync } from 'fastify'
import { inventoryTotals, listOwners } from '../migration/inventory.js'

const PAGE_SIZE = 50
const USERS_SHOWN = 5

interface InventoryQuery {
  q?: string
  page: number
}

const numbers = new Intl.NumberFormat('en-US')

function inventoryLink(q: string, page: number): string {
  const params = new URLSearchParams()
  if (q !== '') params.set('q', q)
  if (page > 1) params.set('page', String(page))
  const search = params.toString()
  return search === '' ? '/staff/inventory' : `/staff/inventory?${search}`
}

// Read-only: the legacy records as the vendor has them, for staff preparing a migration.
// Support staff and operators; access is decided by the staff-access plugin.
const staffInventoryRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: InventoryQuery }>(
    '/staff/inventory',
    {
      config: { staff: 'support' },
      schema: {
        querystring: {
          type: 'object',
          properties: {
            q: { type: 'string', maxLength: 100 },
            page: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1 },
          },
        },
      },
    },
    async (request, reply) => {
      const q = request.query.q?.trim() ?? ''
      const [totals, owners] = await Promise.all([
        inventoryTotals(app.db),
        listOwners(app.db, { q, page: request.query.page, pageSize: PAGE_SIZE, usersShown: USERS_SHOWN }),
      ])
      return reply.view('staff-inventory.eta', {
        title: 'Legacy inventory',
        totals,
        owners,
        q,
        previous: owners.page > 1 ? inventoryLink(q, Math.min(owners.page - 1, owners.pages)) : undefined,
        next: owners.page < owners.pages ? inventoryLink(q, owners.page + 1) : undefined,
        first: inventoryLink(q, 1),
        format: (n: number) => numbers.format(n),
      })
    },
  )
}

export default staffInventoryRoutes
