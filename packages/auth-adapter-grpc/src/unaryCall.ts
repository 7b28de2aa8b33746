import { type ServerUnaryCall, type sendUnaryData, status } from "@grpc/grpc-js"
import { ReplyDeadline } from "@ibex/auth-core"
import type { DomainError } from "@ibex/domain"
import { Cause, Effect, Exit, FiberId, Option, Runtime } from "effect"
import { internalFailure, toGrpcFailure } from "./status.js"
import { BUDGET_METADATA } from "./unaryClient.js"

/**
 * When the caller must have its answer, in epoch ms, or null when it set no bound: its gRPC
 * deadline, or sooner the budget it named (`ibex-budget-ms`; its deadline is a hard bound past
 * the budget, see unaryClient.ts).
 */
const deadlineOf = (call: ServerUnaryCall<unknown, unknown>): number | null => {
  const deadline = call.getDeadline()
  const ms = deadline instanceof Date ? deadline.getTime() : deadline
  const hard = Number.isFinite(ms) ? ms : null
  const budget = Number(call.metadata.get(BUDGET_METADATA)[0])
  if (!Number.isFinite(budget) || budget <= 0) return hard
  const soft = Date.now() + budget
  return hard === null ? soft : Math.min(hard, soft)
}

/**
 * Runs one unary RPC's effect and answers the call from its exit, the same way for every service:
 * a domain failure maps through the ErrorCatalogue, an interruption is CANCELLED, a defect is
 * INTERNAL with a fixed message (already logged inside the RPC's span). A cancelled call
 * interrupts its fiber.
 */
export const answerUnary = <R, Req, Res>(
  runtime: Runtime.Runtime<R>,
  effect: Effect.Effect<Res, DomainError, R>,
  call: ServerUnaryCall<Req, Res>,
  callback: sendUnaryData<Res>
): void => {
  const deadline = deadlineOf(call as ServerUnaryCall<unknown, unknown>)
  const fiber = Runtime.runFork(runtime)(deadline === null ? effect : Effect.locally(effect, ReplyDeadline, deadline))
  const onCancelled = () => fiber.unsafeInterruptAsFork(FiberId.none)
  call.once("cancelled", onCancelled)
  fiber.addObserver((exit) => {
    call.removeListener("cancelled", onCancelled)
    if (Exit.isSuccess(exit)) return callback(null, exit.value)
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure)) {
      const f = toGrpcFailure(failure.value)
      return callback({ code: f.code, details: f.details, metadata: f.metadata })
    }
    if (Cause.isInterruptedOnly(exit.cause)) return callback({ code: status.CANCELLED, details: "Cancelled." })
    const f = internalFailure()
    return callback({ code: f.code, details: f.details, metadata: f.metadata })
  })
}
