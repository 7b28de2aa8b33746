import type { Server } from "node:http"
import { Effect } from "effect"
import type { ProxyConfigShape } from "../ProxyConfig.js"

/**
 * Graceful drain. While open, it counts requests in flight. On shutdown: `draining` turns true
 * (/ready answers 503, every answer says `Connection: close`), the listener stops accepting,
 * idle keep-alive connections close, and whatever is in flight (streams included) has
 * `drainTimeoutMs` to finish before the remaining connections are cut.
 */
export const makeDrain = (config: ProxyConfigShape) => {
  let inFlight = 0
  let draining = false
  return {
    draining: () => draining,
    begin: () => {
      inFlight++
    },
    end: () => {
      inFlight--
    },
    run: (server: Server): Effect.Effect<void> =>
      Effect.async<void>((resume) => {
        draining = true
        const deadline = Date.now() + config.drainTimeoutMs
        let closed = false
        server.close(() => {
          closed = true
        })
        const tick = setInterval(() => {
          server.closeIdleConnections()
          if (inFlight <= 0 || Date.now() >= deadline) {
            clearInterval(tick)
            server.closeAllConnections()
            if (closed) resume(Effect.void)
            else server.once("close", () => resume(Effect.void))
          }
        }, 25)
        server.closeIdleConnections()
        return Effect.sync(() => {
          clearInterval(tick)
          server.closeAllConnections()
        })
      })
  }
}
