import { sql, type Kysely } from 'kysely'
import type { LegacyConfig } from '../config.js'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { githubStatus } from '../github/token-fault.js'
import { appendAudit, type AuditActor } from './audit.js'
import type { Viewer } from './batches.js'
import { legacyTokenOf } from './legacy-token.js'

// The last step: once every old hook of the user has its outcome, the old app's grant goes
// (DELETE /applications/{client_id}/grant, with the legacy app's client id and secret), and the
// old token getting 401 afterwards confirms it. Recorded either way; the token is read for the
// request and never kept.

export type GrantResult =
  /** Revoked, and GitHub now refuses the old token. */
  | { kind: 'revoked' }
  /** Nothing left to revoke: no token on record, or GitHub no longer takes it. */
  | { kind: 'already' }
  /** GitHub refused, or revoked without the token stopping: what the person can do. */
  | { kind: 'failed'; reason: string }
  /** GitHub did not answer: nothing changed, try again. */
  | { kind: 'unanswered' }

/** Whether GitHub still takes the token: false on 401; undefined when GitHub did not say. */
async function stillAccepted(github: GitHubClients, token: string): Promise<boolean | undefined> {
  try {
    await github.asUser(token).request('GET /user')
    return true
  } catch (error) {
    const status = githubStatus(error)
    /* c8 ignore next -- GitHub, and the simulator, refuse a revoked token before anything else fails; an outage in between cannot be staged */
    if (status !== 401) return undefined
    return false
  }
}

export async function revokeGrant(
  db: Kysely<Database>,
  github: GitHubClients,
  oauthApp: NonNullable<LegacyConfig['oauthApp']>,
  user: Viewer,
  requestId: string,
): Promise<GrantResult> {
  const actor: AuditActor = { kind: 'user', githubId: user.id, login: user.login }
  const record = async (result: GrantResult, detail: Record<string, unknown> = {}): Promise<GrantResult> => {
    await db.transaction().execute(async (trx) => {
      if (result.kind === 'revoked' || result.kind === 'already') {
        await trx.updateTable('app.inventory').set({ grant_revoked_at: sql<Date>`now()` }).where('user_id', '=', user.id).execute()
      }
      await appendAudit(trx, {
        actor,
        action: 'legacy_grant_revoked',
        outcome: result.kind === 'failed' ? 'failed' : result.kind,
        ...(result.kind === 'failed' ? { reason: result.reason } : {}),
        requestId,
        detail,
      })
    })
    return result
  }
  const token = await legacyTokenOf(db, user.id)
  if (token == null) return record({ kind: 'already' }, { why: 'no legacy token on record' })
  const settings = `${github.config.webUrl}/settings/applications`
  try {
    await github.asOAuthApp(oauthApp.clientId, oauthApp.clientSecret).request('DELETE /applications/{client_id}/grant', { client_id: oauthApp.clientId, access_token: token })
  } catch (error) {
    const status = githubStatus(error)
    // GitHub does not know the token: revoked already (by the user on GitHub, or by GitHub).
    if ((status === 404 || status === 422) && (await stillAccepted(github, token)) === false) return record({ kind: 'already' }, { status })
    if (status >= 500 || status === 429) return { kind: 'unanswered' }
    return record({ kind: 'failed', reason: `GitHub refused to revoke the old app's authorization (HTTP ${status}). Revoke it yourself on GitHub, at ${settings}.` }, { status })
  }
  // Confirmed by the old token's 401; GitHub not answering leaves it revoked, unconfirmed.
  const accepted = await stillAccepted(github, token)
  /* c8 ignore next 3 -- GitHub (and so the simulator) ends every token of a revoked grant; kept for the day it does not */
  if (accepted === true) {
    return record({ kind: 'failed', reason: `GitHub said the old app's authorization was revoked, but still accepts its token. Revoke it yourself on GitHub, at ${settings}.` })
  }
  return record({ kind: 'revoked' }, { confirmed: accepted === false })
}
