// The instance's cap on GitHub requests in flight (GITHUB_MAX_IN_FLIGHT): first come, first
// served. A lane takes a slot only when its request is ready to go, so a parked or busy lane
// never holds one.

export class InFlightSlots {
  private free: number
  private readonly waiting: (() => void)[] = []
  private busy = 0
  /** The most requests ever in flight at once, for tests and measurements. */
  peak = 0

  constructor(readonly capacity: number) {
    this.free = capacity
  }

  async take(): Promise<void> {
    if (this.free > 0) this.free--
    else await new Promise<void>((resolve) => this.waiting.push(resolve))
    this.busy++
    this.peak = Math.max(this.peak, this.busy)
  }

  give(): void {
    this.busy--
    const next = this.waiting.shift()
    if (next === undefined) this.free++
    else next()
  }
}
