import type { FastifyReply } from 'fastify'
import type { User } from '../state.js'

// Every page of the simulated site goes through here, so the layout always knows who is
// signed in and which world app it shows.

export interface PageData {
  title: string
  viewer: User | undefined
  [name: string]: unknown
}

export function page(reply: FastifyReply, template: string, data: PageData): FastifyReply {
  return reply.type('text/html; charset=utf-8').view(template, data)
}

export function errorPage(reply: FastifyReply, status: number, title: string, message: string, viewer?: User): FastifyReply {
  reply.code(status)
  return page(reply, 'error.eta', { title, message, status, viewer })
}

/** A POST whose CSRF token does not match: the form did not come from this site. */
export function formExpired(reply: FastifyReply, viewer?: User): FastifyReply {
  return errorPage(reply, 403, 'Form expired', 'This form was not made by this page (its CSRF token is missing or wrong). Go back, reload the page and try again.', viewer)
}
