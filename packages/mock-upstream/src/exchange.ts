import type { ServerResponse } from "node:http"

/**
 * One request's response side: the timer it waits on (at most one at a time) and whether its
 * connection is gone. Every deferred step checks `closed` and the 'close' handler clears the
 * timer, so a long delay or a paced stream never outlives its socket or keeps a closed server's
 * process alive.
 */
export class Exchange {
  timer: NodeJS.Timeout | undefined
  closed = false
  /** The mock closed the connection on purpose (a drop, or close()): not a client abort. */
  serverClosed = false

  constructor(readonly res: ServerResponse) {}

  after(ms: number, step: () => void): void {
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (!this.closed) step()
    }, ms)
  }

  onClosed(): void {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }

  drop(): void {
    this.serverClosed = true
    this.res.destroy()
  }

  /** Drop once what was written so far has reached the kernel, so the client sees it before the cut. */
  dropAfterFlush(): void {
    const socket = this.res.socket
    if (!socket || socket.destroyed) this.drop()
    // Writes complete in order: an empty write's callback runs after every earlier byte is out.
    else socket.write("", () => this.drop())
  }
}
