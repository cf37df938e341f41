import type { Kysely, Selectable } from 'kysely'
import type { Database, InstallStateTable } from '../db/database.js'
import type { StatePayload } from './install-state.js'
import { loadBatch, type StoredBatch } from './plan-store.js'
import type { RefusalKind } from './refusals.js'

// What the row of a signed install link says, asked twice in one setup: by the setup URL
// before the browser goes to GitHub's authorization, and by verifySetup when it is back, since
// the batch may be planned away and the link spent (by another tab) in between. The signature
// and the expiry are the state's own (readState); this is the one-time use and whose it is.

/** A link's row and the batch it installs. */
export interface SetupLink {
  state: Selectable<InstallStateTable>
  batch: StoredBatch
}

/** Undefined when planning again removed the batch, and its links with it. */
export async function findLink(db: Kysely<Database>, nonce: string): Promise<SetupLink | undefined> {
  const state = await db.selectFrom('app.install_state').selectAll().where('nonce', '=', nonce).executeTakeFirst()
  const batch = state === undefined ? undefined : await loadBatch(db, state.batch_id)
  return state === undefined || batch === undefined ? undefined : { state, batch }
}

/**
 * Whom a link is checked against: the user signed in here, on the way to GitHub (who can sign
 * out), or the one GitHub's authorization named, on the way back. The words differ with it.
 */
export type LinkCheck = 'session' | 'github'

export interface LinkRefused {
  kind: 'refused'
  refusal: Extract<RefusalKind, 'replanned' | 'other_account' | 'used_link'>
  status: 403 | 409
  reason: string
}

export type LinkStanding =
  /** Nothing against it yet: the claim that spends it still decides. */
  | { kind: 'open'; link: SetupLink }
  /** Used by this same installation: a reload, a second tab, a double click, to land where the first did. */
  | { kind: 'already'; link: SetupLink }
  | LinkRefused

const REPLANNED: LinkRefused = {
  kind: 'refused',
  refusal: 'replanned',
  status: 409,
  reason: 'This installation link belongs to a plan that was made again since. Start again from your migration page.',
}

/** Also what a claim that finds the link spent answers. */
export function usedLink(check: LinkCheck): LinkRefused {
  return { kind: 'refused', refusal: 'used_link', status: 409, reason: `This installation link was already used.${check === 'github' ? '' : ' Your migration page shows where things stand.'}` }
}

function otherAccount(check: LinkCheck, login: string): LinkRefused {
  const reason =
    check === 'github'
      ? `You are signed in on GitHub as ${login}, but this installation was started by another account.`
      : `You are signed in as ${login}, but this installation was started by another account. Sign out, and sign in as that account.`
  return { kind: 'refused', refusal: 'other_account', status: 403, reason }
}

/**
 * `user` is whom to check the link against (nobody, for a browser with no session here).
 * Without an installation to compare (a request, or an id GitHub did not send), a used link
 * is left to the claim that spends it to find.
 */
export function linkStanding(
  link: SetupLink | undefined,
  payload: Pick<StatePayload, 'userId'>,
  user: { id: number; login: string } | undefined,
  installationId: number | undefined,
  check: LinkCheck,
): LinkStanding {
  if (link === undefined) return REPLANNED
  if (user !== undefined && user.id !== payload.userId) return otherAccount(check, user.login)
  if (link.state.used_at === null || installationId === undefined) return { kind: 'open', link }
  if (link.batch.installation_id === installationId) return { kind: 'already', link }
  return usedLink(check)
}
