import { createHash } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import type { SimState } from '../state.js'
import { fields, text, type Fields } from './form.js'
import { sameSecret } from '../../same-secret.js'
import { JSON_TYPE } from '../serialize.js'

// POST /login/oauth/access_token: a one-time code (or a refresh token) for an expiring user
// token. As GitHub does, failures are HTTP 200 with an `error` field, and the reply is
// form-encoded unless the client asks for JSON.

const DOCS = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors'

type Reply = Record<string, string | number>

function failure(error: string, description: string, anchor = error.replaceAll('_', '-')): Reply {
  return { error, error_description: description, error_uri: `${DOCS}/#${anchor}` }
}

const INCORRECT_CLIENT = failure('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.')
const BAD_CODE = failure('bad_verification_code', 'The code passed is incorrect or expired.')
const BAD_VERIFIER = failure('bad_verification_code', 'The code_verifier does not match the code_challenge of the authorization request.')
const REDIRECT_MISMATCH = failure('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.')
const BAD_REFRESH = failure('bad_refresh_token', 'The refresh token passed is incorrect or expired.')
const UNSUPPORTED_GRANT = failure('unsupported_grant_type', 'The grant_type must be authorization_code or refresh_token.')

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url')
}

function tokenReply(state: SimState, userId: number, now: Date): Reply {
  const issued = state.issueUserToken(userId, now)
  return {
    access_token: issued.token,
    expires_in: Math.round((issued.expiresAt.getTime() - now.getTime()) / 1000),
    refresh_token: issued.refreshToken,
    refresh_token_expires_in: Math.round((issued.refreshExpiresAt.getTime() - now.getTime()) / 1000),
    scope: '',
    token_type: 'bearer',
  }
}

function exchangeCode(state: SimState, params: Fields, now: Date): Reply {
  const code = text(params, 'code') ?? ''
  const grant = state.codes.get(code)
  // One use only, whatever the outcome: a code that leaked and failed once stays dead.
  state.codes.delete(code)
  if (grant === undefined || grant.expiresAt <= now) return BAD_CODE
  const redirectUri = text(params, 'redirect_uri')
  if (redirectUri !== undefined && redirectUri !== grant.redirectUri) return REDIRECT_MISMATCH
  if (grant.codeChallenge !== undefined) {
    const verifier = text(params, 'code_verifier')
    if (verifier === undefined || s256(verifier) !== grant.codeChallenge) return BAD_VERIFIER
  }
  return tokenReply(state, grant.userId, now)
}

function refresh(state: SimState, params: Fields, now: Date): Reply {
  const token = text(params, 'refresh_token') ?? ''
  const grant = state.refreshTokens.get(token)
  if (grant === undefined || grant.expiresAt <= now) return BAD_REFRESH
  // GitHub rotates refresh tokens: each one works once.
  state.refreshTokens.delete(token)
  return tokenReply(state, grant.userId, now)
}

export function accessToken(state: SimState, params: Fields, now = new Date()): Reply {
  if (text(params, 'client_id') !== state.app.client_id || !sameSecret(state.app.client_secret, text(params, 'client_secret'))) {
    return INCORRECT_CLIENT
  }
  const grantType = text(params, 'grant_type') ?? 'authorization_code'
  if (grantType === 'authorization_code') return exchangeCode(state, params, now)
  if (grantType === 'refresh_token') return refresh(state, params, now)
  return UNSUPPORTED_GRANT
}

function send(reply: FastifyReply, body: Reply, json: boolean): FastifyReply {
  if (json) return reply.type(JSON_TYPE).send(body)
  const form = new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)]))
  return reply.type('application/x-www-form-urlencoded; charset=utf-8').send(form.toString())
}

export const tokenRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim
  app.post('/login/oauth/access_token', async (request, reply) => {
    const json = (request.headers.accept ?? '').includes('application/json')
    return send(reply, accessToken(state, fields(request.query, request.body)), json)
  })
}
