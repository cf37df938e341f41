import { readFileSync } from 'node:fs'
import t from 'tap'
import { failuresText, TapFailures } from './tap-failures.js'

// tap's own output for a file with a failed point in a nested subtest, a subtest that threw,
// and a passing point in between (test/fixtures/tap-failures.tap, printed by tap 21).
const output = readFileSync(new URL('../fixtures/tap-failures.tap', import.meta.url), 'utf8')

t.test('each failed point, with its file, its subtests and its diagnostic, however the stream is cut', async (t) => {
  for (const size of [output.length, 1, 7, 100]) {
    const failures = new TapFailures()
    for (let i = 0; i < output.length; i += size) failures.write(output.slice(i, i + size))
    const leaves = failures.leaves()
    t.same(
      leaves.map((f) => f.path),
      [
        ['test/zz-fail.test.ts', 'outer', 'inner', 'one is two'],
        ['test/zz-fail.test.ts', 'throws', 'boom'],
      ],
      `in chunks of ${size}`,
    )
    t.match(leaves[0]!.diagnostic.join('\n'), /lineNumber: 4[\s\S]*-2\n *\+1/, 'the expected and found values')
    t.equal(leaves[0]!.diagnostic.at(-1)!.trim(), '...', 'up to the end of the diagnostic, no further')
    t.match(leaves[1]!.diagnostic.join('\n'), /tapCaught: returnedPromiseRejection/)
  }
})

t.test('a file that fails outside any subtest is itself the failure', async (t) => {
  const failures = new TapFailures()
  failures.write('TAP version 14\n# Subtest: test/a.test.ts\n    ok 1 - fine\n    1..1\nnot ok 1 - test/a.test.ts # time=5ms\n  ---\n  signal: SIGTERM\n  ...\n\nok 2 - test/b.test.ts\n')
  t.same(failures.leaves(), [{ path: ['test/a.test.ts'], diagnostic: ['---', 'signal: SIGTERM', '...'] }])
})

t.test('a file tap stopped at its timeout: the point that was waiting, and the file by its name', async (t) => {
  // As tap 21 prints it (the subtests' diagnostics left out).
  const failures = new TapFailures()
  failures.write(
    [
      'TAP version 14',
      '# Subtest: test/slow.test.ts',
      '    # Subtest: slow',
      '        ok 1 - should be equal',
      '        not ok 2 - timeout!',
      '    not ok 1 - slow # time=3002.796ms',
      '    1..1',
      'not ok 1 - timeout!',
      '  ---',
      '  signal: SIGALRM',
      '  ...',
      '',
    ].join('\n'),
  )
  t.same(
    failures.leaves().map((f) => f.path),
    [
      ['test/slow.test.ts', 'slow', 'timeout!'],
      ['test/slow.test.ts', 'timeout!'],
    ],
  )
  t.same(failures.leaves()[1]!.diagnostic, ['---', 'signal: SIGALRM', '...'])
})

t.test('the text for the end of the log: nothing when all passed; at most 20 failures', async (t) => {
  t.equal(failuresText([]), '')
  const many = Array.from({ length: 23 }, (_, i) => ({ path: ['test/a.test.ts', `point ${i}`], diagnostic: ['---', '...'] }))
  const text = failuresText(many)
  t.match(text, /^\nwhat failed \(as printed above\):\nnot ok: test\/a\.test\.ts > point 0\n  ---\n  \.\.\.\n/)
  t.match(text, /point 19/)
  t.notMatch(text, /point 20/)
  t.match(text, /and 3 more, printed above\n$/)
})
