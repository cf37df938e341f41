import type { FastifyPluginAsync } from 'fastify'
import { fields, localPath, text } from './form.js'
import { errorPage, formExpired, page } from './render.js'
import { csrfToken, csrfValid, signedInUser, signIn, signOut } from './session.js'

// The simulated github.com's front page and sign-in: pick a world user, no password.
export const signInRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim

  app.get('/', async (request, reply) => {
    const viewer = signedInUser(request, state)
    return page(reply, 'home.eta', {
      title: 'Simulated GitHub',
      viewer,
      app: state.app,
      csrf: csrfToken(request, reply),
      users: [...state.users.values()],
    })
  })

  app.get('/login', async (request, reply) => {
    const query = fields(request.query)
    return page(reply, 'sign-in.eta', {
      title: 'Sign in',
      viewer: signedInUser(request, state),
      csrf: csrfToken(request, reply),
      users: [...state.users.values()],
      returnTo: localPath(text(query, 'return_to')),
    })
  })

  app.post('/login', async (request, reply) => {
    const body = fields(request.body)
    if (!csrfValid(request, text(body, '_csrf'))) return formExpired(reply)
    const login = text(body, 'login')
    const user = login === undefined ? undefined : state.userByLogin(login)
    if (user === undefined) return errorPage(reply, 422, 'Unknown user', `This world has no user named "${login ?? ''}".`)
    signIn(reply, user)
    return reply.redirect(localPath(text(body, 'return_to')), 303)
  })

  app.post('/logout', async (request, reply) => {
    if (!csrfValid(request, text(fields(request.body), '_csrf'))) return formExpired(reply)
    signOut(reply)
    return reply.redirect('/', 303)
  })
}
