import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'

/** A new empty folder under the system's temporary directory, removed when the test ends. */
export async function tempDir(t: Test, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `oauth-to-app-${prefix}-`))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}
