import type { Kysely } from 'kysely'
import type { StaffRole } from '../config.js'
import type { Database } from '../db/database.js'

// Who may read the staff console. STAFF names GitHub logins; a login can be renamed and later
// taken by a stranger, so the first account to use a staff login keeps it (app.staff_member).

export type StaffStanding =
  | { kind: 'staff'; role: StaffRole }
  | { kind: 'none' }
  /** A staff login used by another GitHub account than the one it was pinned to. */
  | { kind: 'other_account'; pinnedTo: number }

/** What `operator` may, `support` may not; the roles are nested. */
export function roleCovers(held: StaffRole, needed: StaffRole): boolean {
  return held === 'operator' || needed === 'support'
}

export async function staffStanding(db: Kysely<Database>, staff: ReadonlyMap<string, StaffRole>, user: { id: number; login: string } | undefined): Promise<StaffStanding> {
  if (user === undefined) return { kind: 'none' }
  const login = user.login.toLowerCase()
  const role = staff.get(login)
  if (role === undefined) return { kind: 'none' }
  // Pinned by this request or an earlier one: the no-op update returns the row either way.
  const pinned = await db
    .insertInto('app.staff_member')
    .values({ login, github_id: user.id })
    .onConflict((oc) => oc.column('login').doUpdateSet({ login: (eb) => eb.ref('excluded.login') }))
    .returning('github_id')
    .executeTakeFirstOrThrow()
  return Number(pinned.github_id) === user.id ? { kind: 'staff', role } : { kind: 'other_account', pinnedTo: Number(pinned.github_id) }
}
