import { sameSecret } from '../../same-secret.js'
import type { FastifyPluginAsync } from 'fastify'
import { ApiError, notFound } from './errors.js'

// DELETE /applications/{client_id}/grant: the owner of an OAuth app revokes a user's grant,
// with the app's client id and secret as Basic credentials and one of the user's tokens in the
// body; every token of that user for the app stops working. GitHub documents 204 and 422; for
// credentials that are not the app's the simulator answers 401 and for a token that is not the
// app's 404 (the stricter readings, in the README).

export const grantRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim

  app.delete<{ Params: { client_id: string }; Body: { access_token?: unknown } | undefined }>(
    '/applications/:client_id/grant',
    { config: { basic: true } },
    async (request, reply) => {
      const basic = request.ghBasic
      const secret = state.legacyClientSecret
      // Only the legacy OAuth app is an OAuth app here; a world without its secret refuses everyone.
      if (basic === null || secret === undefined || basic.clientId !== state.legacyClientId || request.params.client_id !== basic.clientId || !sameSecret(secret, basic.secret)) {
        throw new ApiError(401, 'Bad credentials')
      }
      const token = request.body?.access_token
      if (typeof token !== 'string' || token === '') throw new ApiError(422, 'Invalid request.\n\n"access_token" wasn\'t supplied.')
      const grant = state.tokens.get(token)
      if (grant?.kind !== 'legacy' || grant.clientId !== basic.clientId) throw notFound()
      state.revokeLegacyToken(state.users.get(grant.userId)!)
      return reply.code(204).send()
    },
  )
}
