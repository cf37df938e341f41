// GitHub's side of a browser test, as the simulator's `GET /_sim/state` tells it: what the
// browser tests check once a person has clicked through (the hooks left, the installations).
// Only the fields they read.

export interface SimHook {
  id: number
  url: string
  createdBy: string
}

export interface SimState {
  repos: { id: number; owner: string; name: string; fullName: string | null; hooks: SimHook[] }[]
  orgs: { login: string; hooks: SimHook[] }[]
  installations: { id: number; account: string; repositorySelection: 'all' | 'selected'; repositories: { id: number; fullName: string }[]; suspendedAt: string | null }[]
  requests: { id: number; account: string; requester: string }[]
  breaches: { total: number }
}

export async function simState(githubUrl: string): Promise<SimState> {
  const response = await fetch(`${githubUrl}/_sim/state`)
  if (!response.ok) throw new Error(`GET /_sim/state answered ${response.status}`)
  return (await response.json()) as SimState
}

/** Every hook GitHub holds, repository and organization hooks alike, with where it is. */
export function hooksOf(state: SimState): (SimHook & { on: string })[] {
  return [
    ...state.repos.flatMap((r) => r.hooks.map((h) => ({ ...h, on: r.fullName ?? `${r.owner}/${r.name}` }))),
    ...state.orgs.flatMap((o) => o.hooks.map((h) => ({ ...h, on: o.login }))),
  ].sort((a, b) => a.id - b.id)
}

/** The installation of the App on `account`, if GitHub has one. */
export function installationOn(state: SimState, account: string): SimState['installations'][number] | undefined {
  return state.installations.find((i) => i.account === account)
}
