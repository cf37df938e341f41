import type { Env } from '../../src/config.js'

/**
 * What a child process of a test needs from the test's environment to load TypeScript and to
 * report coverage to tap, and nothing else: the child gets its configuration explicitly.
 */
export function toolEnv(): Env {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => /^(TAP|_TAPJS_|TS_NODE_|NODE_OPTIONS$|NODE_V8_COVERAGE$)/.test(name)),
  )
}
