import { Readable, Writable } from 'node:stream'
import type { Env } from '../../src/config.js'
import type { CliIo } from '../../src/cli/command.js'

export class Capture extends Writable {
  text = ''
  constructor(readonly isTTY = false) {
    super()
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString()
    done()
  }
}

export interface CapturedIo extends CliIo {
  stdout: Capture
  stderr: Capture
}

/** A CLI io whose output the test reads; `tty` makes stderr look like a person's terminal. */
export function captureIo(env: Env, options: { tty?: boolean; stdin?: string } = {}): CapturedIo {
  return { stdout: new Capture(), stderr: new Capture(options.tty), env, stdin: Readable.from([options.stdin ?? '']) }
}
