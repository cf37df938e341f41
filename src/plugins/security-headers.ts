import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'

export interface SecurityHeadersOptions {
  /** Served over https: browsers may be told to insist on it. */
  secure: boolean
  /** GitHub's web origin: the wizard's forms redirect there (install, settings pages). */
  githubWebUrl: string
}

export const securityHeadersPlugin = fp<SecurityHeadersOptions>(async (app, options) => {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        defaultSrc: ["'self'"],
        // Helmet's default also allows inline styles and any https: stylesheet; pages here
        // use only views/assets, so an injected <style> or <script> has nowhere to come from.
        styleSrc: ["'self'"],
        scriptSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        frameAncestors: ["'none'"],
        // Browsers apply form-action to a form's redirects too: the install button's POST
        // answers with a redirect to GitHub's install page.
        formAction: ["'self'", new URL(options.githubWebUrl).origin],
        // Over plain http (the demo on localhost) this directive would send the browser to an
        // https port that does not exist for every stylesheet.
        upgradeInsecureRequests: options.secure ? [] : null,
      },
    },
    hsts: options.secure ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  })
})
