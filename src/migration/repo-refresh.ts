import type { GitHubOctokit } from '../github/octokit.js'
import { ssoPartialOrgs, tokenFault, type TokenFault, type UnseenFault } from '../github/token-fault.js'
import { unwatched, type Progress } from './background-work.js'

// What GitHub says now about repositories the legacy records name, by id (names and owners
// change, ids do not), asked with the user's legacy OAuth token: first the user's own list,
// then one by one for what the list missed. A refusal is about the one repository (or the
// list) it answered: it is kept with the repository as "unseen", and the rest goes on.

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

export type RepoNow =
  | { status: 'current'; repo: CurrentRepo }
  /** Deleted, or out of this user's sight for good: GitHub answered 404 to a token that could see it. */
  | { status: 'gone' }
  /** This token could not tell: single sign-on, a missing scope, a refusal, or no answer. */
  | { status: 'unseen'; fault: UnseenFault }

/** The legacy token no longer works: the user revoked the OAuth App, or GitHub did. */
export class LegacyTokenRevoked extends Error {
  override name = 'LegacyTokenRevoked'
  constructor() {
    super('GitHub no longer accepts the legacy OAuth token')
  }
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

/** A fault, or LegacyTokenRevoked thrown: a revoked token ends everything asked with it. */
export function faultOf(error: unknown): Exclude<TokenFault, { kind: 'revoked' }> {
  const fault = tokenFault(error)
  if (fault.kind === 'revoked') throw new LegacyTokenRevoked()
  return fault
}

/** Lookups of single repositories run this many at a time: enough to be quick, few enough for GitHub's secondary limits. */
const LOOKUP_CONCURRENCY = 8

async function lookupEach(octokit: GitHubOctokit, repoIds: readonly number[], found: Map<number, RepoNow>, progress: Progress): Promise<void> {
  for (let i = 0; i < repoIds.length; i += LOOKUP_CONCURRENCY) {
    await progress('lookups', i, repoIds.length)
    await Promise.all(
      repoIds.slice(i, i + LOOKUP_CONCURRENCY).map(async (id) => {
        try {
          const { data } = await octokit.request('GET /repositories/{repository_id}', { repository_id: id })
          found.set(id, current(data as ApiRepo))
        } catch (error) {
          const fault = faultOf(error)
          // Deleted, or out of this user's sight: either way not theirs to migrate.
          found.set(id, fault.kind === 'not_found' ? { status: 'gone' } : { status: 'unseen', fault })
        }
      }),
    )
  }
}

/** A rejection handler: `value()` for a revoked token; anything else is not a GitHub answer, and goes on up. */
export function whenRevoked<T>(value: () => T): (error: unknown) => T {
  return (error) => {
    if (error instanceof LegacyTokenRevoked) return value()
    throw error
  }
}

/** A few repositories, one by one. */
export async function lookupRepos(octokit: GitHubOctokit, repoIds: readonly number[], progress: Progress = unwatched): Promise<Map<number, RepoNow>> {
  const found = new Map<number, RepoNow>()
  await lookupEach(octokit, repoIds, found, progress)
  return found
}

/** The number of the last page, from a Link header; undefined when it names none. */
export function lastPage(link: string | undefined): number | undefined {
  const last = /<[^>]*[?&]page=(\d+)[^>]*>;\s*rel="last"/.exec(link ?? '')
  return last === null ? undefined : Number(last[1])
}

export interface Refreshed {
  /** The repositories asked for; with `listAll`, every repository of the user's list too. */
  repos: Map<number, RepoNow>
  /** Organizations owning repositories of the user's list (read to its end only with `listAll`). */
  orgs: Map<number, string>
  /** Organizations whose repositories GitHub left out of the list: SAML single sign-on. */
  ssoOrgIds: Set<number>
  /** Why the list itself could not be read; the repositories were then looked up one by one. */
  listFault?: Exclude<TokenFault, { kind: 'revoked' }>
}

export async function refreshRepos(octokit: GitHubOctokit, repoIds: readonly number[], options: { listAll?: boolean; progress?: Progress } = {}): Promise<Refreshed> {
  const wanted = new Set(repoIds)
  const out: Refreshed = { repos: new Map(), orgs: new Map(), ssoOrgIds: new Set() }
  const progress = options.progress ?? unwatched
  if (wanted.size === 0 && options.listAll !== true) return out
  let pages = 0
  try {
    for await (const page of octokit.paginate.iterator('GET /user/repos', { per_page: 100 })) {
      // GitHub names the last page on every page but the last.
      pages += 1
      await progress('repositories', pages, lastPage(page.headers.link) ?? pages)
      for (const id of ssoPartialOrgs(page.headers['x-github-sso'])) out.ssoOrgIds.add(id)
      for (const repo of page.data as ApiRepo[]) {
        if (options.listAll === true || wanted.has(repo.id)) out.repos.set(repo.id, current(repo))
        if (repo.owner.type === 'Organization') out.orgs.set(repo.owner.id, repo.owner.login)
      }
      if (options.listAll !== true && out.repos.size === wanted.size) break
    }
  } catch (error) {
    out.listFault = faultOf(error)
  }
  await lookupEach(
    octokit,
    [...wanted].filter((id) => !out.repos.has(id)),
    out.repos,
    progress,
  )
  return out
}
