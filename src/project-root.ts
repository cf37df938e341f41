import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The project's root: the nearest folder above `from` holding package.json. Files tsc does not
 * copy (templates, world files) are found there whether the code runs from src/ or dist/src/.
 */
export function projectRoot(from: string | URL = import.meta.url): string {
  let dir = path.dirname(fileURLToPath(from))
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(from)}`)
    dir = parent
  }
  return dir
}
