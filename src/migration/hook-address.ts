// GitHub answers a repository's hook with the hook's own API address, built from where the
// repository is now (`https://api.github.com/repos/OWNER/NAME/hooks/ID`), whichever address
// the hook was asked by: by the repository's id, it follows the repository through a transfer.

/** The repository a hook is on now ("owner/name"), from GitHub's answer for it; undefined when the answer does not say. */
export function repositoryOfHook(data: unknown): string | undefined {
  const match = /\/repos\/([^/]+)\/([^/]+)\/hooks\/\d+$/.exec(String((data as { url?: unknown }).url))
  return match === null ? undefined : `${decodeURIComponent(match[1]!)}/${decodeURIComponent(match[2]!)}`
}

/** Whether a repository now at `now` has left the account `ownerLogin` (logins are case-insensitive; a rename within it is not a move). */
export function movedAway(ownerLogin: string, now: string | undefined): boolean {
  return now !== undefined && now.split('/')[0]!.toLowerCase() !== ownerLogin.toLowerCase()
}
