// GitHub answers a repository's hook with the hook's own API address
// (`https://api.github.com/repos/OWNER/NAME/hooks/ID`, its documented `url`). That it names
// where the repository is now, whichever address the hook was asked by (by the repository's
// id, which follows it through a transfer), is how the simulator builds it; GitHub's reference
// does not say it in so many words. Were it the old place, a move would not be seen here and
// the hook would be handled as before this check, no worse.

/** The repository a hook is on now ("owner/name"), from GitHub's answer for it; undefined when the answer does not say. */
export function repositoryOfHook(data: unknown): string | undefined {
  const match = /\/repos\/([^/]+)\/([^/]+)\/hooks\/\d+$/.exec(String((data as { url?: unknown }).url))
  return match === null ? undefined : `${decodeURIComponent(match[1]!)}/${decodeURIComponent(match[2]!)}`
}

/** Whether a repository now at `now` has left the account `ownerLogin` (logins are case-insensitive; a rename within it is not a move). */
export function movedAway(ownerLogin: string, now: string | undefined): boolean {
  return now !== undefined && now.split('/')[0]!.toLowerCase() !== ownerLogin.toLowerCase()
}
