import type { FastifyPluginAsync } from 'fastify'
import { migrationCounts, needsAttention, pendingApprovals, removalsByDay } from '../migration/progress-counts.js'
import { timelinePath } from './staff-timelines.js'

// The console's front page, where staff land after signing in: the migration at a glance, old
// hooks removed day by day (an SVG drawn here: no chart library in the browser), the requests
// waiting for an org owner and the hooks that need a person, each linked to its timeline.

const DAYS = 30
const LISTED = 20
const CHART = { width: 600, height: 160, pad: 24 }

/** The running total of removals as a line over the days, in the chart's coordinates. */
export function chartOf(days: { day: string; removed: number; total: number }[]) {
  const max = Math.max(1, ...days.map((d) => d.total))
  const { width, height, pad } = CHART
  const x = (i: number): number => pad + (i * (width - 2 * pad)) / Math.max(1, days.length - 1)
  const y = (total: number): number => height - pad - (total * (height - 2 * pad)) / max
  return {
    ...CHART,
    max,
    points: days.map((d, i) => `${x(i).toFixed(1)},${y(d.total).toFixed(1)}`).join(' '),
    first: days[0]!.day,
    last: days.at(-1)!.day,
    days,
  }
}

const numbers = new Intl.NumberFormat('en-US')

const staffDashboardRoutes: FastifyPluginAsync = async (app) => {
  app.get('/staff', { config: { staff: 'support' } }, async (_request, reply) => {
    const [counts, approvals, attention, days] = await Promise.all([migrationCounts(app.db), pendingApprovals(app.db, LISTED), needsAttention(app.db, LISTED), removalsByDay(app.db, DAYS)])
    return reply.view('staff-home.eta', {
      title: 'Staff console',
      counts,
      chart: chartOf(days),
      approvals: approvals.map((a) => ({ ...a, ownerHref: timelinePath({ kind: 'owner', id: a.owner_id }), userHref: timelinePath({ kind: 'user', id: a.user_id }) })),
      attention: attention.map((h) => ({ ...h, href: h.repo_id === null ? timelinePath({ kind: 'owner', id: h.owner_id }) : timelinePath({ kind: 'repo', id: h.repo_id }) })),
      format: (n: number) => numbers.format(n),
    })
  })
}

export default staffDashboardRoutes
