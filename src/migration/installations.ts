import { sql, type Kysely } from 'kysely'
import type { Database, InstallationTable } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'

// What the service knows of the App's installations: recorded from a verified setup
// callback, a signed webhook, or the App's own view (its JWT), never from a query string.

export interface KnownInstallation {
  id: number
  accountId: number
  accountLogin: string
  repositorySelection: InstallationTable['repository_selection']
  suspendedAt: Date | null
}

export interface ApiInstallation {
  id: number
  account: { id: number; login?: string } | null
  repository_selection: 'all' | 'selected'
  suspended_at?: string | null
}

export function fromApi(data: ApiInstallation, accountLogin: string): KnownInstallation {
  return {
    id: data.id,
    accountId: data.account!.id,
    accountLogin: data.account!.login ?? accountLogin,
    repositorySelection: data.repository_selection,
    suspendedAt: data.suspended_at ? new Date(data.suspended_at) : null,
  }
}

/** The App's installation on an account, as the App sees it; undefined when not installed. */
export async function installationOn(
  github: GitHubClients,
  owner: { login: string; type: 'User' | 'Organization' },
): Promise<KnownInstallation | undefined> {
  try {
    const { data } =
      owner.type === 'Organization'
        ? await github.asApp.request('GET /orgs/{org}/installation', { org: owner.login })
        : await github.asApp.request('GET /users/{username}/installation', { username: owner.login })
    return fromApi(data as ApiInstallation, owner.login)
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined
    throw error
  }
}

/** An installation by id, as the App sees it now; undefined when GitHub no longer has it. */
export async function installationNow(github: GitHubClients, installationId: number, accountLogin: string): Promise<KnownInstallation | undefined> {
  try {
    const { data } = await github.asApp.request('GET /app/installations/{installation_id}', { installation_id: installationId })
    return fromApi(data as ApiInstallation, accountLogin)
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined
    throw error
  }
}

export async function recordInstallation(db: Kysely<Database>, installation: KnownInstallation): Promise<void> {
  await db
    .insertInto('app.installation')
    .values({
      id: installation.id,
      account_id: installation.accountId,
      account_login: installation.accountLogin,
      repository_selection: installation.repositorySelection,
      suspended_at: installation.suspendedAt,
      deleted_at: null,
    })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        account_login: eb.ref('excluded.account_login'),
        repository_selection: eb.ref('excluded.repository_selection'),
        suspended_at: eb.ref('excluded.suspended_at'),
        deleted_at: null,
        updated_at: sql<Date>`now()`,
      })),
    )
    .execute()
}

/** The live installation on an account, if the service knows one. */
export async function liveInstallationOf(db: Kysely<Database>, accountId: number) {
  return db
    .selectFrom('app.installation')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('deleted_at', 'is', null)
    .orderBy('updated_at', 'desc')
    .executeTakeFirst()
}
