import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { unavailable } from '../db/unavailable.js'

/** An error whose message is written for the person who made the request, shown as is. */
export class HttpError extends Error {
  override name = 'HttpError'
  constructor(
    readonly statusCode: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

const SERVER_FAULT =
  'Something went wrong on our side, and it has been logged. Please try again in a moment; if it keeps happening, give support the request id below.'

/** What a request hears while the database is away (a restart, a failover): it will be back. */
export const UNAVAILABLE = 'The service cannot reach its database just now. Please try again in a moment.'
/** Seconds a client is asked to wait: about what a database restart takes. */
export const RETRY_AFTER_SECONDS = 5

/** @fastify/csrf-protection's refusals, whose own words ("Invalid csrf token") tell a person nothing. */
const CSRF_REFUSALS = new Set(['FST_CSRF_MISSING_SECRET', 'FST_CSRF_INVALID_TOKEN'])
const CSRF_REFUSED = 'This form was not sent from a page of this service, or your session ended since the page was loaded. Reload the page and try again.'

function statusOf(error: unknown): number {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : 500
}

/** Whether the client asked for JSON rather than a page (scripts, API clients, curl -H). */
export function wantsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? ''
  return accept.includes('application/json') && !accept.includes('text/html')
}

interface Problem {
  status: number
  message: string
  requestId?: string
}

function sendProblem(request: FastifyRequest, reply: FastifyReply, problem: Problem): FastifyReply {
  const title = STATUS_CODES[problem.status] ?? 'Error'
  reply.code(problem.status)
  if (wantsJson(request)) {
    return reply.send({ statusCode: problem.status, error: title, message: problem.message, requestId: problem.requestId })
  }
  return reply.view('error.eta', { title, ...problem })
}

export const errorHandlerPlugin = fp(async (app) => {
  app.setErrorHandler((error, request, reply) => {
    const status = statusOf(error)
    if (status >= 500 && unavailable(error)) {
      // Passing, and not a fault of the request: a warning, and an answer that says when to come back.
      request.log.warn({ err: error }, 'request failed: the database is unavailable')
      reply.header('retry-after', String(RETRY_AFTER_SECONDS))
      return sendProblem(request, reply, { status: 503, message: UNAVAILABLE, requestId: request.id })
    }
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed')
      // Never the error's own text: it may hold SQL, hostnames or a library's internals.
      return sendProblem(request, reply, { status, message: SERVER_FAULT, requestId: request.id })
    }
    request.log.info({ statusCode: status, reason: (error as Error).message }, 'request refused')
    const csrf = CSRF_REFUSALS.has(String((error as { code?: unknown }).code))
    return sendProblem(request, reply, { status, message: csrf ? CSRF_REFUSED : (error as Error).message })
  })

  app.setNotFoundHandler((request, reply) =>
    // The address is not repeated back: it may carry a one-time code someone pasted.
    sendProblem(request, reply, { status: 404, message: 'There is no page at this address.' }),
  )
})
