import type { FastifyPluginAsync } from 'fastify'
import { findSubjects, subjectOf } from '../migration/finder.js'
import { timelineOf, type Subject } from '../migration/timeline.js'
import { HttpError } from '../plugins/error-handler.js'

// The console's search: what a customer pastes, to the timeline of the user, the account or
// the repository it names.

const KINDS = ['user', 'owner', 'repo'] as const

export function timelinePath(subject: Pick<Subject, 'kind' | 'id'>): string {
  return `/staff/timeline/${subject.kind}/${subject.id}`
}

const staffTimelineRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: { q?: string } }>(
    '/staff/search',
    { config: { staff: 'support' }, schema: { querystring: { type: 'object', properties: { q: { type: 'string', maxLength: 300 } }, additionalProperties: false } } },
    async (request, reply) => {
      const q = request.query.q?.trim() ?? ''
      if (q === '') return reply.redirect('/staff', 303)
      const found = await findSubjects(app.db, q)
      if (found.length === 1) return reply.redirect(timelinePath(found[0]!), 303)
      return reply.view('staff-search.eta', { title: `“${q}”`, q, found: found.map((s) => ({ ...s, href: timelinePath(s) })) })
    },
  )

  app.get<{ Params: { kind: (typeof KINDS)[number]; id: number } }>(
    '/staff/timeline/:kind/:id',
    {
      config: { staff: 'support' },
      schema: {
        params: {
          type: 'object',
          properties: { kind: { type: 'string', enum: [...KINDS] }, id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } },
          required: ['kind', 'id'],
        },
      },
    },
    async (request, reply) => {
      const { kind, id } = request.params
      const subject = await subjectOf(app.db, kind, id)
      if (subject === undefined) throw new HttpError(404, `Nothing is recorded about ${kind === 'repo' ? 'repository' : kind === 'owner' ? 'account' : 'user'} ${id}.`)
      const timeline = await timelineOf(app.db, subject)
      const audit = `/staff/audit?${new URLSearchParams(Object.entries(timeline.filter).map(([k, v]): [string, string] => [k, String(v)])).toString()}`
      const name = subject.kind === 'repo' ? subject.name : subject.login
      return reply.view('staff-timeline.eta', { title: name, name, kind: subject.kind, timeline, audit })
    },
  )
}

export default staffTimelineRoutes
