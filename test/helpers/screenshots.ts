import { mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import type { Page } from 'playwright-core'
import type { Test } from 'tap'
import { projectRoot } from '../../src/project-root.js'

// The browser tests' screenshots: each step of a scenario at a phone's width and a desktop's,
// kept after the run in .data/screenshots/<scenario>/ (git ignores .data/) for a person to
// look at. Each run replaces its scenario's folder.

export const DESKTOP = { width: 1200, height: 900 }
export const PHONE = { width: 390, height: 844 }

// Work under way whose end reloads the page (views/assets/progress.js): a step is shot once it
// has ended. A reload during a capture stalls it past any timeout (the project CI lost a run
// that way: a second coverage check, started by the installation's webhook, ended while mona's
// "Covered" page was being shot).
const UNDER_WAY = '[data-progress], [data-coverage-progress], [role="status"] [data-cleanup-progress]'
// A capture on a loaded two-core machine (four test files at once) takes seconds, not ms.
const CAPTURE_MS = 30_000

export interface Screenshots {
  dir: string
  /**
   * The page at both widths, saved as `<nn>-<name>-390.png` and `<nn>-<name>-1200.png` (nn: the
   * step's number); fails the test when the page is wider than the phone. Leaves the page at
   * the desktop width. Waits first for the page to settle: no work under way whose end reloads it.
   */
  shoot(page: Page, name: string): Promise<void>
}

export async function screenshots(t: Test, scenario: string): Promise<Screenshots> {
  const dir = path.join(projectRoot(), '.data', 'screenshots', scenario)
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  let step = 0
  return {
    dir,
    async shoot(page, name) {
      const file = `${String(++step).padStart(2, '0')}-${name}`
      await page.locator(UNDER_WAY).first().waitFor({ state: 'detached', timeout: CAPTURE_MS })
      await page.waitForLoadState('load')
      await page.setViewportSize(PHONE)
      await page.screenshot({ path: path.join(dir, `${file}-390.png`), fullPage: true, timeout: CAPTURE_MS })
      const scrollWidth = Number(await page.evaluate('document.documentElement.scrollWidth'))
      t.ok(scrollWidth <= PHONE.width, `${name} fits a phone (scrollWidth ${scrollWidth})`)
      await page.setViewportSize(DESKTOP)
      await page.screenshot({ path: path.join(dir, `${file}-1200.png`), fullPage: true, timeout: CAPTURE_MS })
    },
  }
}
