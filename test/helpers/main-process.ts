import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import type { Env } from '../../src/config.js'
import { toolEnv } from './child-env.js'
import { sharedKeyPair } from './keys.js'

// `npm start` as a real process: src/main.ts under the same node flags as the test, so tap's
// TypeScript loader and coverage apply to it as well.

const root = fileURLToPath(new URL('../..', import.meta.url))

const { privateKey } = sharedKeyPair()

const secrets = {
  SESSION_SECRET: 'a-session-secret-that-is-long-enough-1234',
  GITHUB_APP_CLIENT_SECRET: 'client-secret-never-printed',
  GITHUB_WEBHOOK_SECRET: 'webhook-secret-never-printed',
}

/** A complete production environment of the service on `databaseUrl` and `port`. */
export function productionEnv(databaseUrl: string, port: number): Env {
  return {
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: 'https://migrate.example.com',
    GITHUB_APP_ID: '4242',
    GITHUB_APP_SLUG: 'example-ci',
    GITHUB_APP_CLIENT_ID: 'Iv1.0123456789',
    GITHUB_APP_PRIVATE_KEY: privateKey,
    LEGACY_HOOK_URL: 'https://ci.example.com/hooks/github',
    LOG_LEVEL: 'info',
    ...secrets,
  }
}

export interface Started {
  child: ChildProcess
  output: { stdout: string; stderr: string }
  exit: Promise<number | null>
}

/** The service started as `npm start` starts it, with `env` alone (and what tap's tools need). */
export function start(env: Env): Started {
  const child = spawn(process.execPath, [...process.execArgv, 'src/main.ts'], { cwd: root, env: { ...toolEnv(), ...env } })
  const output = { stdout: '', stderr: '' }
  child.stdout!.on('data', (d: Buffer) => (output.stdout += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (output.stderr += d.toString()))
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { child, output, exit }
}

export function assertNoSecret(t: Test, text: string): void {
  for (const value of [...Object.values(secrets), privateKey.split('\n')[1]!]) {
    t.notOk(text.includes(value), 'no secret value in the output')
  }
}
