import type { FastifyPluginAsync } from 'fastify'
import { ownerIdsOf, REPORT_FORMATS, REPORT_TYPES, reportFileName, reportStream, type ReportFormat, type ReportScope } from '../migration/before-report.js'
import { snapshotCounts } from '../migration/before-snapshot.js'
import { HttpError } from '../plugins/error-handler.js'

// The before-state report for operators: every legacy hook, or one owner's, as the vendor had
// it and what became of it, streamed by Postgres (the same report as `oauth-to-app report:before`).

interface ReportQuery {
  owner?: string
  format: ReportFormat
}

const staffReportRoutes: FastifyPluginAsync = async (app) => {
  app.get('/staff/reports', { config: { staff: 'operator' } }, async (_request, reply) => {
    const counts = await snapshotCounts(app.db)
    const numbers = new Intl.NumberFormat('en-US')
    return reply.view('staff-reports.eta', { title: 'Before-state report', frozen: numbers.format(counts.frozen), unfrozen: numbers.format(counts.unfrozen), unfrozenCount: counts.unfrozen })
  })

  app.get<{ Querystring: ReportQuery }>(
    '/staff/reports/before',
    {
      config: { staff: 'operator', staffExport: true },
      schema: {
        querystring: {
          type: 'object',
          properties: { owner: { type: 'string', maxLength: 100 }, format: { type: 'string', enum: [...REPORT_FORMATS], default: 'csv' } },
        },
      },
    },
    async (request, reply) => {
      const owner = request.query.owner?.trim() || undefined
      let scope: ReportScope = { kind: 'all' }
      if (owner !== undefined) {
        const ownerIds = await ownerIdsOf(app.db, owner)
        if (ownerIds.length === 0) throw new HttpError(404, `No legacy webhook or migration is recorded for the owner “${owner}”.`)
        scope = { kind: 'owner', ownerIds }
      }
      const { format } = request.query
      return reply
        .type(REPORT_TYPES[format])
        .header('content-disposition', `attachment; filename="${reportFileName(format, owner)}"`)
        .send(await reportStream(app.pool, scope, format))
    },
  )
}

export default staffReportRoutes
