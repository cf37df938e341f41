import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { sameSecret } from '../same-secret.js'
import { quieter } from '../logger.js'

// GET /legacy/hooks/{hook_id}, for the vendor's legacy webhook receiver: between the install and
// the removal of an old hook, GitHub delivers each event twice (the old hook's and the App's).
// The receiver asks, per delivery of an old hook, whether to process it; `deliver: false` means
// the App covers the repository (or, for an organization hook, all of the organization's) and
// the App's delivery is the one to keep. Read from the view app.legacy_hook_state, which a
// receiver with database access may query instead.

export interface LegacyHookOptions {
  /** The bearer secret (LEGACY_RECEIVER_SECRET); without one, the endpoint is off (404). */
  secret: string | undefined
}

const answerSchema = {
  type: 'object',
  properties: {
    hook_id: { type: 'integer' },
    repo_id: { type: ['integer', 'null'] },
    state: { type: 'string' },
    since: { type: 'string' },
    deliver: { type: 'boolean' },
  },
  required: ['hook_id', 'repo_id', 'state', 'since', 'deliver'],
} as const

const errorSchema = { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] } as const

function bearer(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1]
}

const legacyHookRoutes: FastifyPluginAsync<LegacyHookOptions> = async (app, { secret }) => {
  const refuse = (reply: FastifyReply, status: number, message: string) => reply.code(status).header('cache-control', 'no-store').send({ message })
  app.get<{ Params: { hook_id: string } }>(
    '/legacy/hooks/:hook_id',
    {
      schema: { response: { 200: answerSchema, 400: errorSchema, 401: errorSchema, 404: errorSchema } },
      // Asked once per delivery of every old hook: only failures are worth a log line.
      logLevel: quieter('warn', app.log.level),
    },
    async (request, reply) => {
      if (secret === undefined) return refuse(reply, 404, 'This endpoint is off: set LEGACY_RECEIVER_SECRET to turn it on.')
      const given = bearer(request.headers.authorization)
      if (!sameSecret(secret, given)) {
        reply.header('www-authenticate', 'Bearer realm="legacy-hooks"')
        return refuse(reply, 401, 'Send the receiver secret as "Authorization: Bearer <LEGACY_RECEIVER_SECRET>".')
      }
      const hookId = Number(request.params.hook_id)
      if (!/^[1-9][0-9]{0,15}$/.test(request.params.hook_id) || !Number.isSafeInteger(hookId)) return refuse(reply, 400, 'A hook id is a positive whole number.')
      const row = await app.db.selectFrom('app.legacy_hook_state').select(['hook_id', 'repo_id', 'state', 'since', 'deliver']).where('hook_id', '=', hookId).executeTakeFirst()
      if (row === undefined) return refuse(reply, 404, `The legacy records name no hook ${hookId}.`)
      reply.header('cache-control', 'no-store')
      return { ...row, since: row.since.toISOString() }
    },
  )
}

export default legacyHookRoutes
