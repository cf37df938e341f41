import type { World } from '../../src/simulator/world.js'
import { demoWorld } from './simulator.js'

// The demo world's legacy tokens hold repo and hook scopes only, as most legacy tokens do; tests
// of the endpoints that need an org or a user scope grant it here, on top.

/** `world` (the demo world by default) with `scopes` added to the named users' legacy scopes. */
export function withScopes(scopes: Record<string, string[]>, world: World = demoWorld()): World {
  for (const [login, extra] of Object.entries(scopes)) {
    const user = world.users.find((u) => u.login === login)!
    user.legacy_scopes = [...(user.legacy_scopes ?? []), ...extra]
  }
  return world
}
