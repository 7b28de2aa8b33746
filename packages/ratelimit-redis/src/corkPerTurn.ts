import type { Duplex } from "node:stream"

/** What `corkPerTurn` needs of a connection: an ioredis `Redis` qualifies. */
export interface CorkableConnection {
  readonly status: string
  readonly stream: Pick<Duplex, "cork" | "uncork">
}

/**
 * Commands issued in one event-loop turn leave in one `writev`: the first command of a turn corks
 * the socket and the check phase (`setImmediate`) uncorks it. Each script still runs atomically in
 * Redis; only the system calls are shared.
 *
 * Why not ioredis's own `enableAutoPipelining`, which batches the same way: it builds a Pipeline
 * per batch, and that garbage outlives the young generation. At c16 the proxy ran a 3–5 ms
 * scavenge every 50–70 ms plus a mark-compact every few seconds, which is most of its p99
 * (docs/PERFORMANCE.md, "Ninth session"). Without batching, a write(2) per request's EVALSHA was
 * the largest single cost in the proxy's profile.
 *
 * Call it right before each command. A connection that is not ready is left alone (the command
 * fails at once: no offline queue); a socket replaced by a reconnect within the turn is simply not
 * corked, and the old one is uncorked as planned.
 */
export const corkPerTurn = (connection: CorkableConnection): (() => void) => {
  let corked = false
  const uncork = (stream: CorkableConnection["stream"]) => {
    corked = false
    stream.uncork()
  }
  return () => {
    if (corked || connection.status !== "ready") return
    const stream = connection.stream
    corked = true
    stream.cork()
    setImmediate(uncork, stream)
  }
}
