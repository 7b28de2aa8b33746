/**
 * How long this process's event loop has been stuck in its current turn. A busy loop reads no
 * socket, so auth's heartbeats wait unread meanwhile: that wait is the proxy's own, not auth's
 * silence, and the cache grants it on top of its bound (load must never flip a decision).
 *
 * Timers run once per loop turn, so a timer that stamps the time every `tickMs` measures the
 * stall: the time since its last stamp, beyond one tick. It runs only while decisions ask for it:
 * after `idleTicks` ticks with no `stall()` call it stops, so an idle proxy is not woken 100 times
 * a second for nothing (each wake-up of a process costs 0.1–0.2 ms of CPU on these machines). A
 * `stall()` while stopped restarts it and answers 0: underestimating a stall only makes the cache
 * trust less, never more.
 */
export class StallClock {
  private lastTick = 0
  private timer: ReturnType<typeof setInterval> | undefined
  private unasked = 0
  private closed = false

  constructor(
    private readonly tickMs: number,
    private readonly idleTicks: number
  ) {}

  /** The current turn's stall beyond one tick, in ms; keeps the clock running. */
  stall(now: number = performance.now()): number {
    this.unasked = 0
    if (this.timer === undefined) {
      this.start(now)
      return 0
    }
    return Math.max(0, now - this.lastTick - this.tickMs)
  }

  /** The same, without keeping the clock running: 0 while it is stopped (the loop was idle). */
  peek(now: number = performance.now()): number {
    return this.timer === undefined ? 0 : Math.max(0, now - this.lastTick - this.tickMs)
  }

  get running(): boolean {
    return this.timer !== undefined
  }

  close(): void {
    this.closed = true
    this.stop()
  }

  private start(now: number): void {
    if (this.closed) return
    this.lastTick = now
    this.timer = setInterval(() => {
      this.lastTick = performance.now()
      if (++this.unasked > this.idleTicks) this.stop()
    }, this.tickMs).unref()
  }

  private stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}
