import { type CallOptions, type ClientUnaryCall, Metadata, type ServiceError } from "@grpc/grpc-js"
import { formatTraceparent } from "@ibex/domain"
import { Context, Effect, Redacted, Tracer } from "effect"

type Callback<Res> = (error: ServiceError | null, response: Res) => void
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: Callback<Res>
) => ClientUnaryCall

/**
 * One unary call as an Effect, for every client of this package: deadline on every call;
 * interrupting the fiber cancels the call. The current span (the caller's client span) travels as
 * W3C `traceparent` metadata, so the server's RPC span is its child in the same trace.
 */
export const callUnary = <Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  deadlineMs: number,
  metadata: Metadata = new Metadata()
): Effect.Effect<Res, ServiceError> =>
  Effect.withFiberRuntime<Res, ServiceError>((fiber) => {
    const span = Context.getOption(fiber.currentContext, Tracer.ParentSpan)
    if (span._tag === "Some") {
      const traceparent = formatTraceparent(span.value)
      if (traceparent !== undefined) metadata.set("traceparent", traceparent)
    }
    return Effect.async<Res, ServiceError>((resume) => {
      const inFlight = method(request, metadata, { deadline: Date.now() + deadlineMs }, (error, response) =>
        resume(error === null ? Effect.succeed(response) : Effect.fail(error))
      )
      return Effect.sync(() => inFlight.cancel())
    })
  })

/** `authorization: Bearer <secret>` metadata (a PAT or a platform-admin credential). */
export const bearerMetadata = (bearer: Redacted.Redacted<string>): Metadata => {
  const metadata = new Metadata()
  metadata.set("authorization", `Bearer ${Redacted.value(bearer)}`)
  return metadata
}
