import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { legacyTokenOf } from './legacy-token.js'

// Who can approve a member's request to install the App on an org: its owners, as GitHub lists
// them to that member (GET /orgs/{org}/members?role=admin, with the member's legacy token).
// Shown to the member who waits, so they know whom to ask; the page also links to the org's
// owners on GitHub, which is all it offers when GitHub will not say. Asked while the setup
// callback answers, so it is one request, never every page: the first 100 owners name enough
// people to ask, and the lane answers within seconds even when parked.

export async function orgOwners(db: Kysely<Database>, github: GitHubClients, userId: number, org: string): Promise<string[]> {
  const token = await legacyTokenOf(db, userId)
  if (token == null) return []
  try {
    const { data: owners } = await github.asUser(token).request('GET /orgs/{org}/members', { org, role: 'admin', per_page: 100 })
    return owners.map((o) => o.login).sort()
  } catch {
    // Only a courtesy: the request is recorded either way.
    return []
  }
}
