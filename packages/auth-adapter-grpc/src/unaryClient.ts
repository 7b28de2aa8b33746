import { type CallOptions, type ClientUnaryCall, Metadata, type ServiceError, status } from "@grpc/grpc-js"
import { formatTraceparent } from "@ibex/domain"
import { Context, Effect, Redacted, Tracer } from "effect"

type Callback<Res> = (error: ServiceError | null, response: Res) => void
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: Callback<Res>
) => ClientUnaryCall

/** The caller's budget, in metadata: the server bounds its own waits (refusal padding) by it. */
export const BUDGET_METADATA = "ibex-budget-ms"

/**
 * One unary call as an Effect, for every client of this package: a budget on every call;
 * interrupting the fiber cancels the call. The current span (the caller's client span) travels as
 * W3C `traceparent` metadata, so the server's RPC span is its child in the same trace.
 *
 * The budget is judged, not timed: a timer that fires late says this process was busy (a burst
 * of connections, a long turn), not that the server is slow, and the reply may be waiting in the
 * socket. So when the budget's timer fires, the reply gets the rest of that turn (its I/O phase)
 * first; the call fails only when a whole budget interval passed with the timer on time and no
 * reply, or at the hard bound (the gRPC deadline: the budget plus at least a second). The
 * server is told the budget itself (`ibex-budget-ms`), so it still answers within it.
 */
export const callUnary = <Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  budgetMs: number,
  metadata: Metadata = new Metadata()
): Effect.Effect<Res, ServiceError> =>
  Effect.withFiberRuntime<Res, ServiceError>((fiber) => {
    const span = Context.getOption(fiber.currentContext, Tracer.ParentSpan)
    if (span._tag === "Some") {
      const traceparent = formatTraceparent(span.value)
      if (traceparent !== undefined) metadata.set("traceparent", traceparent)
    }
    metadata.set(BUDGET_METADATA, String(budgetMs))
    return Effect.async<Res, ServiceError>((resume) => {
      const hardMs = budgetMs + Math.max(budgetMs, 1_000)
      const lagToleranceMs = Math.max(5, budgetMs / 2)
      let settled = false
      let timer: ReturnType<typeof setTimeout> | undefined
      let armedAt = performance.now()
      const inFlight = method(request, metadata, { deadline: Date.now() + hardMs }, (error, response) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(error === null ? Effect.succeed(response) : Effect.fail(error))
      })
      if (!settled) timer = setTimeout(() => fired(performance.now()), budgetMs)
      const fired = (firedAt: number) =>
        setImmediate(() => {
          if (settled) return
          const late = firedAt - armedAt - budgetMs > lagToleranceMs
          if (!late) {
            settled = true
            inFlight.cancel()
            return resume(Effect.fail(budgetExpired()))
          }
          armedAt = performance.now()
          timer = setTimeout(() => fired(performance.now()), budgetMs)
        })
      return Effect.sync(() => {
        settled = true
        clearTimeout(timer)
        inFlight.cancel()
      })
    })
  })

/** What an expired budget looks like to the callers: the gRPC deadline's status. */
const budgetExpired = (): ServiceError =>
  Object.assign(new Error("budget expired"), {
    code: status.DEADLINE_EXCEEDED,
    details: "Deadline exceeded",
    metadata: new Metadata()
  })

/** `authorization: Bearer <secret>` metadata (a PAT or a platform-admin credential). */
export const bearerMetadata = (bearer: Redacted.Redacted<string>): Metadata => {
  const metadata = new Metadata()
  metadata.set("authorization", `Bearer ${Redacted.value(bearer)}`)
  return metadata
}
