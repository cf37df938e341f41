import type { GitHubConfig } from '../config.js'
import type { StoredBatch } from './plan-store.js'

// GitHub's install page with a batch preselected, and the installation's settings page for
// what the API may not add.

/** GitHub preselects at most this many repositories from one link. */
export const MAX_LINK_REPOS = 100

/** Not known to be covered, and still there to install on: what a link (or the API) still has to add. */
export function stillToInstall(repo: Pick<StoredBatch['repos'][number], 'coverage'>): boolean {
  return repo.coverage === 'unknown' || repo.coverage === 'not_covered'
}

/**
 * The repositories an install link preselects: none (meaning "all repositories") when the
 * owner has a legacy org hook, which only an installation on all of them replaces; otherwise
 * what is not covered yet, the first 100 by name, the rest added after the install.
 */
export function installLinkRepos(batch: Pick<StoredBatch, 'repos' | 'orgHooks'>): number[] {
  if (batch.orgHooks.length > 0) return []
  return batch.repos
    .filter(stillToInstall)
    .slice(0, MAX_LINK_REPOS)
    .map((r) => r.repo_id)
}

/**
 * Whether a link can name what to install: GitHub reads a link without repository ids as "all
 * repositories", which only an organization webhook asks for. A batch of nothing but others'
 * repositories this user cannot see gets no link (nor a request for all of the owner's).
 */
export function canLink(batch: Pick<StoredBatch, 'repos' | 'orgHooks'>): boolean {
  return batch.orgHooks.length > 0 || installLinkRepos(batch).length > 0
}

export function installUrl(github: Pick<GitHubConfig, 'webUrl' | 'appSlug'>, ownerId: number, repoIds: number[], state: string): string {
  const query = new URLSearchParams({ suggested_target_id: String(ownerId) })
  for (const id of repoIds) query.append('repository_ids[]', String(id))
  query.set('state', state)
  return `${github.webUrl}/apps/${encodeURIComponent(github.appSlug)}/installations/new/permissions?${query.toString()}`
}

/** The installation's settings page on GitHub, with the repositories still to tick. */
export function settingsUrl(github: Pick<GitHubConfig, 'webUrl'>, batch: Pick<StoredBatch, 'owner_type' | 'owner_login' | 'installation_id' | 'repos'>): string {
  const path =
    batch.owner_type === 'Organization'
      ? `/organizations/${encodeURIComponent(batch.owner_login)}/settings/installations/${batch.installation_id}`
      : `/settings/installations/${batch.installation_id}`
  const query = new URLSearchParams()
  for (const repo of batch.repos) if (repo.coverage === 'not_covered') query.append('repository_ids[]', String(repo.repo_id))
  const rest = query.toString()
  return `${github.webUrl}${path}${rest === '' ? '' : `?${rest}`}`
}
