import type { Server } from "node:http"
import { Effect } from "effect"
import type { ProxyConfigShape } from "../ProxyConfig.js"

/**
 * After the deadline cuts what is still in flight, how long the cut requests have to end: a
 * cut stream aborts its upstream call, counts what it delivered, settles its reservation and
 * hands its usage record over, and only then may the layers below (the record shipper, Redis)
 * close. Those ends take milliseconds; this bounds a request that would never end.
 */
const CUT_REQUESTS_END_WITHIN_MS = 2_000

/**
 * Graceful drain. While open, it counts requests in flight (their connections) and requests not
 * yet ended (their usage recorded and access line written). On shutdown: `draining` turns true
 * (/ready answers 503, every answer says `Connection: close`), the listener stops accepting,
 * idle keep-alive connections close, whatever is in flight (streams included) has
 * `drainTimeoutMs` to finish before the remaining connections are cut, and the cut requests
 * then have their ends (usage record, settle, access line) before the drain completes.
 */
export const makeDrain = (config: ProxyConfigShape) => {
  let inFlight = 0
  let unfinished = 0
  let draining = false
  return {
    draining: () => draining,
    begin: () => {
      inFlight++
      unfinished++
    },
    /** The request's connection is done with (answered, or gone). */
    end: () => {
      inFlight--
    },
    /** The request has ended: its usage recorded and its access line written. Once per request. */
    finish: () => {
      unfinished--
    },
    run: (server: Server): Effect.Effect<void> =>
      Effect.async<void>((resume) => {
        draining = true
        const deadline = Date.now() + config.drainTimeoutMs
        let closed = false
        server.close(() => {
          closed = true
        })
        let cutAt: number | undefined
        const tick = setInterval(() => {
          server.closeIdleConnections()
          if (cutAt === undefined && (inFlight <= 0 || Date.now() >= deadline)) {
            cutAt = Date.now()
            server.closeAllConnections()
          }
          if (cutAt !== undefined && (unfinished <= 0 || Date.now() - cutAt >= CUT_REQUESTS_END_WITHIN_MS)) {
            clearInterval(tick)
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
