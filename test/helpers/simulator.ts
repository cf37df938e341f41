import { readFileSync } from 'node:fs'
import path from 'node:path'
import { App, Octokit } from 'octokit'
import type { Test } from 'tap'
import type { GitHubConfig } from '../../src/config.js'
import { projectRoot } from '../../src/project-root.js'
import { buildSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server.js'
import type { SimState } from '../../src/simulator/state.js'
import { validateWorld, type World } from '../../src/simulator/world.js'
import { sharedKeyPair } from './keys.js'

// A simulator listening on a loopback port for one test, closed when the test ends.

export interface StartedSimulator {
  /** The web side, e.g. http://127.0.0.1:PORT (GITHUB_WEB_URL). */
  url: string
  /** The REST API, e.g. http://127.0.0.1:PORT/api/v3 (GITHUB_API_URL). */
  apiUrl: string
  sim: Simulator
  /** Shorthand for sim.state. */
  state: SimState
  /** The app's private key (PEM), for octokit's App. */
  privateKey: string
  close(): Promise<void>
}

export type StartOptions = Omit<SimulatorOptions, 'world'>

/** A fresh deep copy of src/simulator/worlds/demo.json, free for a test to change. */
export function demoWorld(): World {
  const file = path.join(projectRoot(), 'src', 'simulator', 'worlds', 'demo.json')
  return validateWorld(JSON.parse(readFileSync(file, 'utf8')), file)
}

export async function startSimulator(t: Test, world: World = demoWorld(), options: StartOptions = {}): Promise<StartedSimulator> {
  const sim = await buildSimulator({ logLevel: 'silent', madeKeyPair: sharedKeyPair(), ...options, world: structuredClone(world) })
  await sim.app.listen({ host: '127.0.0.1', port: 0 })
  const address = sim.app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const url = `http://127.0.0.1:${port}`
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await sim.app.close()
  }
  t.teardown(close)
  return { url, apiUrl: `${url}/api/v3`, sim, state: sim.state, privateKey: sim.keys.privateKey, close }
}

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }

/**
 * An octokit client of the simulator's API for a token (legacy, ghu_ or ghs_), quiet, with the
 * retry and throttling plugins off unless a test turns them on: a refusal then reaches the test.
 */
export function clientFor(apiUrl: string, token: string | undefined, options: Record<string, unknown> = {}): Octokit {
  return new Octokit({
    baseUrl: apiUrl,
    ...(token === undefined ? {} : { auth: token }),
    log: quiet,
    retry: { enabled: false },
    throttle: { enabled: false },
    ...options,
  })
}

/** The simulated world's GitHub App as octokit's App, authenticating with the app's key. */
export function appFor(started: StartedSimulator, options: Record<string, unknown> = {}): App {
  return new App({
    appId: started.state.app.id,
    privateKey: started.privateKey,
    log: quiet,
    Octokit: Octokit.defaults({ baseUrl: started.apiUrl, log: quiet, retry: { enabled: false }, throttle: { enabled: false }, ...options }),
  })
}

/** The service's GitHub settings for a simulator of `world`'s app, its web side at `url`. */
export function simulatedGitHub(app: World['app'], url: string, privateKey: string): GitHubConfig {
  return {
    webUrl: url,
    apiUrl: `${url}/api/v3`,
    appId: app.id,
    appSlug: app.slug,
    clientId: app.client_id,
    clientSecret: app.client_secret,
    privateKey,
    webhookSecret: app.webhook_secret,
  }
}

/** The demo world with the App installed on these of mona's repositories and on all of acme's. */
export function installedOnMonaAndAcme(monaRepos: number[]): World {
  const world = demoWorld()
  world.installations = [
    { id: 500, account: 'mona', repository_selection: 'selected', repositories: monaRepos },
    { id: 501, account: 'acme', repository_selection: 'all' },
  ]
  return world
}
