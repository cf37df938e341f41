import { randomBytes } from 'node:crypto'
import path from 'node:path'
import fastifyCookie from '@fastify/cookie'
import fastifyView from '@fastify/view'
import { Eta } from 'eta'
import type { FastifyPluginAsync } from 'fastify'
import { projectRoot } from '../../project-root.js'
import { installRoutes } from './install.js'
import { installationRequestRoutes } from './installation-requests.js'
import { installationSettingsRoutes } from './installation-settings.js'
import { authorizeRoutes } from './oauth-authorize.js'
import { tokenRoutes } from './oauth-token.js'
import { signInRoutes } from './sign-in.js'
import { ssoRoutes } from './sso.js'

// github.com's web side: a simulated sign-in, OAuth authorization and the token exchange, the
// app installation pages, and the settings pages where owners change an installation and
// answer installation requests, and the SAML single sign-on page of an org. Templates live in views/simulator with their own layout, so
// the simulated GitHub never looks like the service under test.
export const webRoutes: FastifyPluginAsync = async (app) => {
  // A fresh secret per simulator: its cookies mean nothing to another instance.
  await app.register(fastifyCookie, { secret: randomBytes(32) })
  const views = path.join(projectRoot(), 'views', 'simulator')
  await app.register(fastifyView, {
    engine: { eta: new Eta({ views, autoEscape: true }) },
    root: views,
    layout: 'layout.eta',
    production: true,
  })
  await app.register(signInRoutes)
  await app.register(authorizeRoutes)
  await app.register(tokenRoutes)
  await app.register(installRoutes)
  await app.register(installationSettingsRoutes)
  await app.register(installationRequestRoutes)
  await app.register(ssoRoutes)
}
