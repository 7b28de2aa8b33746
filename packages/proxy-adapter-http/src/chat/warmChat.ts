import type { IncomingMessage, ServerResponse } from "node:http"
import {
  type AuthorizedRequest,
  type DomainError,
  type ForwardError,
  type Forwarded,
  firstAttemptNow,
  forwardChatCompletion,
  lookupModel,
  ModelNotAllowed,
  ModelNotFound,
  type ModelPricing,
  type ProviderGatewayShape,
  ProviderNotConfigured,
  planForward,
  type RoutingShape,
  type RoutingTable,
  type TargetHealth,
  type TargetHealthShape,
  type UsageLimiter,
  type UsageLimiterShape,
  type UsageReservation,
  type UsageSink,
  type UsageSinkShape
} from "@ibex/domain"
import { Cause, Effect, Either, type Option } from "effect"
import type { AuthorizeStage } from "../edge/authorize.js"
import { arrivedAtMs, type RequestState } from "../edge/RequestState.js"
import type { Responder } from "../edge/Responder.js"
import { type ClientGone, declaredTooLarge, isJsonMediaType, readBodyNow } from "../edge/readBody.js"
import { headerValue } from "../headers.js"
import type { ProxyMetrics } from "../Metrics.js"
import { applyAdmission, reservesUsage } from "./admitUsage.js"
import { type ChatIntent, parseChatRequest } from "./chatRequest.js"
import {
  type ForwardRequirements,
  prepareForward,
  startStream,
  streamEnded,
  streamOptions,
  writeCompletion
} from "./forward.js"
import { reservationFor } from "./metering.js"
import { beginUsage, recordUsageNow, type UsageInput } from "./recordUsage.js"
import { type StreamOutcome, writeStreamNow } from "./writeStream.js"

/** A request's end on the warm path: a refusal, a defect, or (undefined) an answer already written. */
export type WarmEnd = DomainError | ClientGone | Cause.Cause<unknown> | undefined

/** What the chat's stages need from the runtime (the targets' health is the edge's own). */
export type ChatRequirements = Exclude<ForwardRequirements, TargetHealth> | UsageLimiter | UsageSink

/** The long way's stages the warm path hands a request over to, from where it stands. */
export interface ChatHandOver {
  /** Carries the request on in a fiber: the long way's recovery and access line. */
  readonly inFiber: (
    req: IncomingMessage,
    res: ServerResponse,
    state: RequestState,
    rest: Effect.Effect<void, DomainError | ClientGone, ChatRequirements>
  ) => void
  /** From usage admission on (`chatCompletions` after its body was validated). */
  readonly admitAndForward: (
    req: IncomingMessage,
    res: ServerResponse,
    state: RequestState,
    authorized: AuthorizedRequest,
    bodyBytes: number,
    intent: ChatIntent,
    pricing: Option.Option<ModelPricing>
  ) => Effect.Effect<void, DomainError | ClientGone, ChatRequirements>
  /** The rest of a forward (its attempts, or the estimate of its usage), then its usage recorded. */
  readonly recorded: (
    input: UsageInput,
    forwarding: Effect.Effect<void, ForwardError, ForwardRequirements>
  ) => Effect.Effect<void, DomainError | ClientGone, ChatRequirements>
  /** The answer written back once an attempt succeeded (a completion or a stream). */
  readonly answer: (
    res: ServerResponse,
    state: RequestState,
    intent: ChatIntent,
    orgId: string,
    meter: UsageInput["meter"],
    forwarded: Forwarded
  ) => Effect.Effect<void>
  readonly estimate: (intent: ChatIntent, meter: UsageInput["meter"], body: string) => Effect.Effect<void>
  readonly estimateStream: (
    intent: ChatIntent,
    meter: UsageInput["meter"],
    written: StreamOutcome
  ) => Effect.Effect<void>
}

export interface WarmChatDeps {
  readonly maxBodyBytes: number
  readonly authorizeWarm: AuthorizeStage["authorizeWarm"]
  readonly routing: RoutingShape
  readonly gateway: ProviderGatewayShape
  readonly health: TargetHealthShape
  readonly usageLimiter: UsageLimiterShape
  readonly usageSink: UsageSinkShape
  readonly responder: Responder
  readonly metrics: ProxyMetrics
  /** Ends the request (refusal or defect answered; nothing to write when undefined) and writes its access line. */
  readonly end: (req: IncomingMessage, res: ServerResponse, state: RequestState, how: WarmEnd) => void
  readonly handOver: ChatHandOver
}

/**
 * `POST /v1/chat/completions` for a warm, untraced request, without a request fiber: the same
 * stages as the long way (authorize, body, validation, model lookup, usage admission, the
 * upstream call, the answer written whole or streamed, the usage record), run as callbacks.
 * Every rule is the one the long way uses (the domain's `admit`, `planForward` and retry
 * verdicts, the limiters' own decisions, one stream writer); whatever is not the common case (a
 * failed first attempt, a provider kind or limiter without callbacks, a usage to estimate) is
 * handed to the long way's fiber from where the request stands. Returns false, having done
 * nothing, when the request must go the long way from the start (not warm, or refused on its
 * headers).
 */
export const makeWarmChat = (deps: WarmChatDeps) => {
  const { handOver, metrics } = deps
  const current = deps.routing.current
  const route = "POST /v1/chat/completions" as const
  // Field-less refusals, answered and dropped without ever entering a fiber: one value each
  // serves every request (building an Effect error per refused request was 3 % of its CPU).
  const modelNotFound = new ModelNotFound(undefined, { disableValidation: true })
  const modelNotAllowed = new ModelNotAllowed(undefined, { disableValidation: true })

  const forwardNow = (
    req: IncomingMessage,
    res: ServerResponse,
    state: RequestState,
    authorized: AuthorizedRequest,
    intent: ChatIntent,
    table: RoutingTable,
    reservation: UsageReservation,
    counted: boolean,
    pricing: Option.Option<ModelPricing>
  ) => {
    const { principal } = authorized
    const orgId = principal.orgId
    const input = beginUsage(state, authorized, intent, reservation, counted, pricing, metrics)
    const meter = input.meter
    const context = prepareForward(req, res, state, intent, orgId, undefined, meter, metrics)
    const rest = (forwarding: Effect.Effect<void, ForwardError, ForwardRequirements>) =>
      handOver.inFiber(req, res, state, handOver.recorded(input, forwarding))
    const answered = (forwarded: Forwarded) => handOver.answer(res, state, intent, orgId, meter, forwarded)
    const fromStart = () => rest(Effect.flatMap(forwardChatCompletion(context.request, context.observer), answered))
    const plan = planForward(table, orgId, intent.model, deps.health, Math.random)
    if (Either.isLeft(plan) || plan.right.targets.length === 0) return fromStart()
    const took = firstAttemptNow(plan.right, context.request, context.observer, deps.health, deps.gateway, (outcome) =>
      guarded(req, res, state, () => {
        if (outcome._tag === "Failed") return rest(Effect.flatMap(outcome.rest, answered))
        const forwarded = outcome.forwarded
        const response = forwarded.response
        const recorded = () => {
          if (!recordUsageNow(input, deps.usageLimiter, deps.usageSink)) return rest(Effect.void)
          deps.end(req, res, state, undefined)
        }
        if (response._tag === "Completion") {
          if (!writeCompletion(deps.responder, metrics, res, state, orgId, meter, { ...forwarded, response }))
            return rest(handOver.estimate(intent, meter, response.body))
          return recorded()
        }
        if (response.puller === undefined) return rest(answered(forwarded))
        startStream(deps.responder, res, state, forwarded)
        writeStreamNow(res, response.puller, streamOptions(intent, state), (written) =>
          guarded(req, res, state, () => {
            if (!streamEnded(metrics, state, orgId, meter, forwarded, written))
              return rest(handOver.estimateStream(intent, meter, written))
            recorded()
          })
        )
      })
    )
    if (!took) fromStart()
  }

  // A throw in a callback (the limiter's, the body's, the upstream's) is the request's 500,
  // as a defect in the long way's fiber is: never an uncaught exception.
  const guarded = (req: IncomingMessage, res: ServerResponse, state: RequestState, f: () => void) => {
    try {
      f()
    } catch (defect) {
      try {
        deps.end(req, res, state, Cause.die(defect))
      } catch {
        // Nothing left to answer with; the socket is the client's to time out, the process lives on.
        res.destroy()
      }
    }
  }

  const onBody = (
    req: IncomingMessage,
    res: ServerResponse,
    state: RequestState,
    authorized: AuthorizedRequest,
    raw: Buffer,
    table: RoutingTable
  ) => {
    const parsed = parseChatRequest(raw)
    if (Either.isLeft(parsed)) return deps.end(req, res, state, parsed.left)
    const intent = parsed.right
    const { principal } = authorized
    // No provider at all is a gateway that was not given any: 501, as before forwarding existed.
    if (table.providers.size === 0) return deps.end(req, res, state, new ProviderNotConfigured())
    const found = lookupModel(table, principal.orgId, intent.model)
    if (found._tag === "NotFound") return deps.end(req, res, state, modelNotFound)
    if (found._tag === "NotAllowed") return deps.end(req, res, state, modelNotAllowed)
    const pricing = found.route.pricing
    const reserves = reservesUsage(principal)
    const reserveNow = deps.usageLimiter.reserveNow
    if (reserves && reserveNow === undefined)
      return handOver.inFiber(
        req,
        res,
        state,
        handOver.admitAndForward(req, res, state, authorized, raw.length, intent, pricing)
      )
    const reservation = reservationFor(principal, intent, raw.length, pricing, arrivedAtMs(state))
    if (!reserves || reserveNow === undefined)
      return forwardNow(req, res, state, authorized, intent, table, reservation, false, pricing)
    reserveNow(reservation, (answer) =>
      guarded(req, res, state, () => {
        const admitted = applyAdmission(principal, answer, state, metrics)
        if (Either.isLeft(admitted)) return deps.end(req, res, state, admitted.left)
        forwardNow(req, res, state, authorized, intent, table, reservation, admitted.right, pricing)
      })
    )
  }

  return (req: IncomingMessage, res: ServerResponse, state: RequestState): boolean => {
    if (current === undefined || deps.gateway.callNow === undefined) return false
    // Refused on the headers: the long way answers those, before anything is counted.
    if (!isJsonMediaType(headerValue(req.headers, "content-type")) || declaredTooLarge(req, deps.maxBodyBytes))
      return false
    return deps.authorizeWarm(req, state, route, undefined, (authorized) =>
      guarded(req, res, state, () => {
        if (Either.isLeft(authorized)) return deps.end(req, res, state, authorized.left)
        readBodyNow(req, deps.maxBodyBytes, (raw) =>
          guarded(req, res, state, () => {
            if (Either.isLeft(raw)) return deps.end(req, res, state, raw.left)
            // The table is read once, after the body: a request sees one table from here to its end.
            onBody(req, res, state, authorized.right, raw.right, current())
          })
        )
      })
    )
  }
}
