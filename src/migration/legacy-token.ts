import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'

// A user's legacy OAuth token, read from the legacy tables for one task and never copied.

/** The token; null when the legacy records say it was revoked; undefined for no legacy user. */
export async function legacyTokenOf(db: Kysely<Database>, userId: number): Promise<string | null | undefined> {
  const row = await db.selectFrom('legacy.oauth_users').select('oauth_token').where('github_user_id', '=', userId).executeTakeFirst()
  return row?.oauth_token
}
