import type { GitHubOctokit } from '../github/octokit.js'

// What GitHub says now about repositories the legacy records name, by id (names and owners
// change, ids do not), asked with the user's legacy OAuth token: first the user's own list,
// then one by one for what the list missed.

export interface CurrentRepo {
  id: number
  name: string
  ownerId: number
  ownerLogin: string
  ownerType: 'User' | 'Organization'
  private: boolean
  /** The user may administer it (needed to add it to an installation). */
  admin: boolean
}

export type RepoNow = { status: 'current'; repo: CurrentRepo } | { status: 'gone' }

/** The legacy token no longer works: the user revoked the OAuth App, or GitHub did. */
export class LegacyTokenRevoked extends Error {
  override name = 'LegacyTokenRevoked'
}

interface ApiRepo {
  id: number
  name: string
  private: boolean
  owner: { id: number; login: string; type: string }
  permissions?: { admin?: boolean }
}

function current(repo: ApiRepo): RepoNow {
  return {
    status: 'current',
    repo: {
      id: repo.id,
      name: repo.name,
      ownerId: repo.owner.id,
      ownerLogin: repo.owner.login,
      ownerType: repo.owner.type === 'Organization' ? 'Organization' : 'User',
      private: repo.private,
      admin: repo.permissions?.admin === true,
    },
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { status?: number }).status
}

/** Lookups of single repositories run this many at a time: enough to be quick, few enough for GitHub's secondary limits. */
const LOOKUP_CONCURRENCY = 8

async function revokedAware<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (statusOf(error) === 401) throw new LegacyTokenRevoked('GitHub no longer accepts the legacy OAuth token')
    throw error
  }
}

async function lookupEach(octokit: GitHubOctokit, repoIds: readonly number[], found: Map<number, RepoNow>): Promise<void> {
  for (let i = 0; i < repoIds.length; i += LOOKUP_CONCURRENCY) {
    await Promise.all(
      repoIds.slice(i, i + LOOKUP_CONCURRENCY).map(async (id) => {
        try {
          const { data } = await octokit.request('GET /repositories/{repository_id}', { repository_id: id })
          found.set(id, current(data as ApiRepo))
        } catch (error) {
          // Deleted, or out of this user's sight: either way not theirs to migrate.
          if (statusOf(error) !== 404) throw error
          found.set(id, { status: 'gone' })
        }
      }),
    )
  }
}

/** A few repositories, one by one. */
export async function lookupRepos(octokit: GitHubOctokit, repoIds: readonly number[]): Promise<Map<number, RepoNow>> {
  const found = new Map<number, RepoNow>()
  await revokedAware(() => lookupEach(octokit, repoIds, found))
  return found
}

export async function refreshRepos(octokit: GitHubOctokit, repoIds: readonly number[]): Promise<Map<number, RepoNow>> {
  const wanted = new Set(repoIds)
  const found = new Map<number, RepoNow>()
  if (wanted.size === 0) return found
  await revokedAware(async () => {
    for await (const page of octokit.paginate.iterator('GET /user/repos', { per_page: 100 })) {
      for (const repo of page.data as ApiRepo[]) if (wanted.has(repo.id)) found.set(repo.id, current(repo))
      if (found.size === wanted.size) break
    }
    await lookupEach(
      octokit,
      [...wanted].filter((id) => !found.has(id)),
      found,
    )
  })
  return found
}
