import type { FastifyPluginAsync } from 'fastify'
import type { GitHubOctokitClass } from '../github/octokit.js'
import { planBatches } from '../migration/batches.js'
import { LegacyTokenRevoked } from '../migration/repo-refresh.js'
import { viewerOf } from './auth.js'

// The migration wizard's first page: the signed-in user's installation batches, one per owner.
// The user's legacy OAuth token is read from the legacy tables for this request only.

export interface WizardRoutesOptions {
  /** The server's one Octokit class. */
  GitHub: GitHubOctokitClass
}

export const wizardRoutes: FastifyPluginAsync<WizardRoutesOptions> = async (app, { GitHub }) => {

  app.get('/migrate', async (request, reply) => {
    const viewer = viewerOf(request)
    if (viewer === undefined) return reply.redirect('/auth/login')
    const legacy = await app.db.selectFrom('legacy.oauth_users').select('oauth_token').where('github_user_id', '=', viewer.id).executeTakeFirst()
    if (legacy === undefined) {
      return reply.view('wizard-nothing.eta', { title: 'Nothing to migrate', login: viewer.login })
    }
    if (legacy.oauth_token === null) {
      return reply.view('wizard-revoked.eta', { title: 'Legacy authorization revoked', login: viewer.login })
    }
    try {
      const inventory = await planBatches(app.db, new GitHub({ auth: legacy.oauth_token }), viewer)
      if (inventory.batches.length === 0 && inventory.gone.length === 0) {
        return await reply.view('wizard-nothing.eta', { title: 'Nothing to migrate', login: viewer.login })
      }
      return await reply.view('wizard.eta', { title: 'Your migration', ...inventory })
    } catch (error) {
      if (error instanceof LegacyTokenRevoked) return reply.view('wizard-revoked.eta', { title: 'Legacy authorization revoked', login: viewer.login })
      throw error
    }
  })
}
