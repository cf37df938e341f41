// A CI log is often kept only by its tail, while tap prints a failure where it happens, minutes
// of output earlier. This reads tap's TAP stream as it passes and keeps each failed point with
// the subtests it sits in and its diagnostic, so that `npm test` can repeat them at the end.

export interface TapFailure {
  /** The file, the subtests, then the failed point's own description. */
  path: string[]
  /** Its YAML diagnostic (the expected and found values, the source line), as printed. */
  diagnostic: string[]
}

const SUBTEST = /^(\s*)# Subtest: (.*)$/
const NOT_OK = /^(\s*)not ok \d+(?: - (.*?))?(?: # .*)?$/

export class TapFailures {
  readonly failures: TapFailure[] = []
  private readonly subtests: string[] = []
  private partial = ''
  private open: { failure: TapFailure; indent: string } | undefined

  /** A chunk of the stream, cut anywhere. */
  write(chunk: string): void {
    const lines = (this.partial + chunk).split('\n')
    this.partial = lines.pop()!
    for (const line of lines) this.line(line)
  }

  /**
   * The failures where the test's points failed: a subtest fails when a point in it does, so
   * only those without a failed point below them are kept (a file that threw, a timeout).
   */
  leaves(): TapFailure[] {
    return this.failures.filter((f) => !this.failures.some((g) => g !== f && g.path.length > f.path.length && f.path.every((p, i) => g.path[i] === p)))
  }

  private line(line: string): void {
    if (this.open !== undefined) {
      const { failure, indent } = this.open
      if (line.startsWith(`${indent}  `) && failure.diagnostic.length < 60) {
        failure.diagnostic.push(line.slice(indent.length + 2))
        if (line.trim() === '...') this.open = undefined
        return
      }
      this.open = undefined
    }
    const subtest = SUBTEST.exec(line)
    if (subtest) {
      const depth = subtest[1]!.length / 4
      this.subtests.length = depth
      this.subtests.push(subtest[2]!)
      return
    }
    const failed = NOT_OK.exec(line)
    if (failed) {
      const depth = failed[1]!.length / 4
      const description = failed[2] ?? '(no description)'
      // A file's own line names the file, except when tap killed it: "timeout!".
      const within = depth === 0 && this.subtests[0] !== undefined && this.subtests[0] !== description ? [this.subtests[0]] : this.subtests.slice(0, depth)
      const failure = { path: [...within, description], diagnostic: [] }
      this.failures.push(failure)
      this.open = { failure, indent: failed[1]! }
    }
  }
}

/** The failures as text for the end of a log, or '' when there are none. */
export function failuresText(failures: readonly TapFailure[]): string {
  if (failures.length === 0) return ''
  const shown = failures.slice(0, 20)
  const parts = shown.map((f) => [`not ok: ${f.path.join(' > ')}`, ...f.diagnostic.map((d) => `  ${d}`)].join('\n'))
  if (failures.length > shown.length) parts.push(`and ${failures.length - shown.length} more, printed above`)
  return `\nwhat failed (as printed above):\n${parts.join('\n')}\n`
}
