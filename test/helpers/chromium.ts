import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { brotliDecompressSync } from 'node:zlib'
import { chromium, type Browser } from 'playwright-core'
import type { Test } from 'tap'

// The headless Chromium that the devDependency @sparticuz/chromium carries inside its npm
// package, so `npm install && npm test` needs no system browser and nothing is downloaded at
// run time (never `npx playwright install`). Its own executablePath() is not used: it unpacks
// into the shared /tmp, where a test file launching at the same moment as another can find a
// half-written binary, a copy another user unpacked (mode 0700) cannot be run, and whatever
// version was left there is taken as is.
const pkg = path.resolve(path.dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..')

// Unpacked once per installed version under node_modules/.cache (owned by whoever installed, gone
// with `npm ci`), into a directory of this process's own and renamed into place when complete.
export function unpackedChromium(): string {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`@sparticuz/chromium ships an x64 Linux build only, not ${process.platform}-${process.arch}`)
  const { version } = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { version: string }
  const dir = path.resolve(pkg, '..', '..', '.cache', 'oauth-to-app', `chromium-${version}`)
  if (existsSync(path.join(dir, 'chromium'))) return dir
  const partial = `${dir}.${process.pid}`
  rmSync(partial, { recursive: true, force: true })
  mkdirSync(partial, { recursive: true })
  const unpacked = (name: string): Buffer => brotliDecompressSync(readFileSync(path.join(pkg, 'bin', name)))
  writeFileSync(path.join(partial, 'chromium'), unpacked('chromium.br'), { mode: 0o755 })
  // lib/: the NSS and expat the binary links against, which a bare machine lacks (built for
  // Amazon Linux 2023, so any x64 Linux with glibc 2.34 or newer). fonts/: without any font,
  // text has no width and Playwright finds links and buttons not visible.
  for (const tarball of ['al2023.tar.br', 'fonts.tar.br']) execFileSync('tar', ['-x', '-C', partial], { input: unpacked(tarball) })
  // The package's fonts.conf names /tmp/fonts; only the bundled fonts, so pages lay out alike everywhere.
  writeFileSync(
    path.join(partial, 'fonts.conf'),
    `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <dir>${dir}/fonts</dir>\n  <cachedir>${dir}/fonts-cache</cachedir>\n</fontconfig>\n`,
  )
  try {
    renameSync(partial, dir)
  } catch (error) {
    // Another test file unpacked it first.
    rmSync(partial, { recursive: true, force: true })
    if (!existsSync(path.join(dir, 'chromium'))) throw error
  }
  return dir
}

export async function launchChromium(t: Test): Promise<Browser> {
  const dir = unpackedChromium()
  const browser = await chromium.launch({
    executablePath: path.join(dir, 'chromium'),
    headless: true,
    // Not the package's chromium.args: made for Lambda, they turn off web security and site
    // isolation, and a browser kinder than a user's would let the tests pass where users fail.
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    env: {
      ...process.env,
      LD_LIBRARY_PATH: [path.join(dir, 'lib'), process.env['LD_LIBRARY_PATH']].filter(Boolean).join(':'),
      FONTCONFIG_FILE: path.join(dir, 'fonts.conf'),
    },
  })
  t.teardown(() => browser.close())
  return browser
}
