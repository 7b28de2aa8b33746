import { Duration, Effect, Either, Option } from "effect"
import {
  ModelNotAllowed,
  ModelNotFound,
  UpstreamError,
  UpstreamRateLimited,
  UpstreamRejected,
  UpstreamTimeout,
  UpstreamUnavailable,
  ValidationFailed
} from "../errors.js"
import { FieldError } from "../FieldError.js"
import type { AbortSignalLike } from "./AbortLatch.js"
import { Routing } from "./Routing.js"
import {
  type CooldownPolicy,
  lookupModel,
  orderTargets,
  type RetryPolicy,
  type RouteTarget,
  type RoutingTable
} from "./RoutingTable.js"
import { TargetHealth, type TargetHealthShape, targetKey } from "./TargetHealth.js"
import {
  ProviderGateway,
  type ProviderGatewayShape,
  UpstreamAborted,
  type UpstreamFailure,
  type UpstreamRequest,
  type UpstreamResponse,
  type UpstreamTarget
} from "./Upstream.js"

export interface ForwardRequest {
  readonly orgId: string
  /** The client-visible model name from the request body. */
  readonly model: string
  readonly body: Readonly<Record<string, unknown>>
  readonly stream: boolean
  readonly headers: Readonly<Record<string, string>>
  readonly signal: AbortSignalLike
}

/**
 * How an attempt ended, as a bounded label: "ok", the failure's tag, or for a provider's error
 * status `http_<status>` (400–599; anything else `http_other`), so a 429 is told from a 503.
 */
export type AttemptOutcome = "ok" | Exclude<UpstreamFailure["_tag"], "UpstreamHttpError"> | `http_${string}`

export const attemptOutcomeOf = (failure: UpstreamFailure): AttemptOutcome =>
  failure._tag !== "UpstreamHttpError"
    ? failure._tag
    : failure.status >= 400 && failure.status <= 599 && Number.isInteger(failure.status)
      ? `http_${failure.status}`
      : "http_other"

/** Hooks for metrics and spans at the edge; the use case itself knows no metrics library. */
export interface ForwardObserver {
  readonly attempt: (target: RouteTarget, outcome: AttemptOutcome, durationMs: number) => void
  readonly retry: (target: RouteTarget) => void
  readonly fallback: (from: RouteTarget) => void
}

export interface Forwarded {
  readonly response: UpstreamResponse
  readonly target: RouteTarget
  /** Attempts made, this one included. */
  readonly attempts: number
}

export type ForwardError =
  | ModelNotFound
  | ModelNotAllowed
  | UpstreamError
  | UpstreamTimeout
  | UpstreamRateLimited
  | UpstreamRejected
  | UpstreamUnavailable
  | ValidationFailed
  | UpstreamAborted

const retryableStatus = (status: number) => status === 429 || status === 529 || (status >= 500 && status <= 504)

/** A 4xx the provider blames on our side (key, deployment, model name): another target may work. */
const configStatus = (status: number) => status === 401 || status === 403 || status === 404

type Verdict =
  | { readonly _tag: "Retry"; readonly delayMs: number }
  | { readonly _tag: "NextTarget" }
  | { readonly _tag: "Stop" }

const backoffMs = (policy: RetryPolicy, attempt: number, random: () => number): number => {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1))
  // Equal jitter: spreads retries from many proxies without ever waiting zero.
  return Math.round(exp / 2 + (random() * exp) / 2)
}

const verdictFor = (failure: UpstreamFailure, policy: RetryPolicy, attempt: number, random: () => number): Verdict => {
  const canRetry = attempt < policy.maxAttempts
  switch (failure._tag) {
    case "UpstreamAborted":
      return { _tag: "Stop" }
    case "UpstreamRequestUnsupported":
      return { _tag: "NextTarget" }
    case "UpstreamConnectFailed":
      return canRetry ? { _tag: "Retry", delayMs: backoffMs(policy, attempt, random) } : { _tag: "NextTarget" }
    case "UpstreamTimedOut":
      // A target that hung once is likely to hang again: spend the time on the next one.
      return { _tag: "NextTarget" }
    case "UpstreamProtocolError":
      return { _tag: "NextTarget" }
    case "UpstreamHttpError": {
      if (retryableStatus(failure.status)) {
        if (!canRetry) return { _tag: "NextTarget" }
        const after = Option.getOrElse(failure.retryAfterMs, () => backoffMs(policy, attempt, random))
        return after > policy.retryAfterCapMs ? { _tag: "NextTarget" } : { _tag: "Retry", delayMs: after }
      }
      return configStatus(failure.status) ? { _tag: "NextTarget" } : { _tag: "Stop" }
    }
  }
}

/**
 * Whether the failure says something about the target's health. A request the provider refused
 * for what it asked (a 400 such as context length exceeded) does not: counted, one tenant's bad
 * requests would cool a model down for every tenant. Nor does the client going away, or a
 * request this kind of target cannot take.
 */
const blamesTarget = (failure: UpstreamFailure): boolean => {
  switch (failure._tag) {
    case "UpstreamAborted":
    case "UpstreamRequestUnsupported":
      return false
    case "UpstreamHttpError":
      return retryableStatus(failure.status) || configStatus(failure.status)
    default:
      return true
  }
}

const toForwardError = (failure: UpstreamFailure): ForwardError => {
  switch (failure._tag) {
    case "UpstreamAborted":
      return failure
    case "UpstreamRequestUnsupported":
      return new ValidationFailed({ fieldErrors: [new FieldError({ field: failure.field, message: failure.message })] })
    case "UpstreamTimedOut":
      return new UpstreamTimeout()
    case "UpstreamConnectFailed":
    case "UpstreamProtocolError":
      return new UpstreamError()
    case "UpstreamHttpError":
      if (failure.status === 429 || failure.status === 529)
        return new UpstreamRateLimited({ retryAfterMs: Option.getOrElse(failure.retryAfterMs, () => 1_000) })
      if (failure.status >= 400 && failure.status < 500 && !configStatus(failure.status))
        return new UpstreamRejected({
          status: failure.status,
          providerMessage: failure.message,
          ...(failure.providerCode === undefined ? {} : { providerCode: failure.providerCode })
        })
      return new UpstreamError()
  }
}

export const toUpstreamTarget = (t: RouteTarget): UpstreamTarget => ({
  providerId: t.provider.id,
  kind: t.provider.kind,
  baseUrl: t.provider.baseUrl,
  apiKey: t.provider.apiKey,
  apiVersion: t.provider.apiVersion,
  model: t.model,
  timeouts: t.provider.timeouts
})

/** One request's plan, fixed when it starts: a hot reload never changes it midway. */
export interface ForwardPlan {
  /** The targets in the order they will be tried: those not cooling down (none: 503 UPSTREAM_UNAVAILABLE). */
  readonly targets: ReadonlyArray<RouteTarget>
  readonly policy: RetryPolicy
  readonly cooldown: CooldownPolicy
}

/** The model's targets in this request's order, without those cooling down, and the retry policy. */
export const planForward = (
  table: RoutingTable,
  orgId: string,
  model: string,
  health: TargetHealthShape,
  random: () => number
): Either.Either<ForwardPlan, ModelNotFound | ModelNotAllowed> => {
  const found = lookupModel(table, orgId, model)
  if (found._tag === "NotFound") return Either.left(new ModelNotFound())
  if (found._tag === "NotAllowed") return Either.left(new ModelNotAllowed())
  const now = Date.now()
  const ordered = orderTargets(found.route.targets, random)
  // All cooling: no targets, and the request is refused (503 UPSTREAM_UNAVAILABLE) without
  // reaching any. A target is tried again when its cooldown ends, on probation (TargetHealth).
  const healthy = ordered.filter((t) => health.coolingForMs(targetKey(t.provider.id, t.model), now) === 0)
  return Either.right({ targets: healthy, policy: table.retry, cooldown: table.cooldown })
}

/** Where a forward stands: the target being tried, its attempt number, and attempts made so far. */
interface Cursor {
  readonly index: number
  readonly attempt: number
  readonly attempts: number
}

type Step =
  | { readonly _tag: "Attempt"; readonly cursor: Cursor; readonly delayMs: number }
  | { readonly _tag: "Fail"; readonly error: ForwardError }

const upstreamRequest = (request: ForwardRequest, target: RouteTarget): UpstreamRequest => ({
  target: toUpstreamTarget(target),
  body: request.body,
  stream: request.stream,
  headers: request.headers,
  signal: request.signal
})

/** A successful attempt: counted, and the target's failure streak ends. */
const succeeded = (
  plan: ForwardPlan,
  cursor: Cursor,
  response: UpstreamResponse,
  startedMs: number,
  health: TargetHealthShape,
  observer: ForwardObserver
): Forwarded => {
  const target = plan.targets[cursor.index] as RouteTarget
  observer.attempt(target, "ok", Date.now() - startedMs)
  health.recordSuccess(targetKey(target.provider.id, target.model))
  return { response, target, attempts: cursor.attempts }
}

/** What follows a failed attempt: the same target again after a delay, the next target, or the error. */
const afterFailure = (
  plan: ForwardPlan,
  cursor: Cursor,
  failure: UpstreamFailure,
  startedMs: number,
  health: TargetHealthShape,
  observer: ForwardObserver,
  random: () => number
): Step => {
  const target = plan.targets[cursor.index] as RouteTarget
  observer.attempt(target, attemptOutcomeOf(failure), Date.now() - startedMs)
  const verdict = verdictFor(failure, plan.policy, cursor.attempt, random)
  const cooled =
    blamesTarget(failure) &&
    health.recordFailure(targetKey(target.provider.id, target.model), plan.cooldown, Date.now())
  if (verdict._tag === "Stop") return { _tag: "Fail", error: toForwardError(failure) }
  // A failure that started the target's cooldown ends its retries here too.
  if (verdict._tag === "Retry" && !cooled) {
    observer.retry(target)
    return {
      _tag: "Attempt",
      cursor: { index: cursor.index, attempt: cursor.attempt + 1, attempts: cursor.attempts },
      delayMs: verdict.delayMs
    }
  }
  if (cursor.index >= plan.targets.length - 1) return { _tag: "Fail", error: toForwardError(failure) }
  observer.fallback(target)
  return { _tag: "Attempt", cursor: { index: cursor.index + 1, attempt: 1, attempts: cursor.attempts }, delayMs: 0 }
}

/** The plan carried out from `step` on: attempts, waits between retries, fallbacks, until an answer or an error. */
const runPlan = (
  plan: ForwardPlan,
  request: ForwardRequest,
  observer: ForwardObserver,
  random: () => number,
  first: Step
): Effect.Effect<Forwarded, ForwardError, ProviderGateway | TargetHealth> =>
  Effect.gen(function* () {
    const gateway = yield* ProviderGateway
    const health = yield* TargetHealth
    let step = first
    while (step._tag === "Attempt") {
      if (step.delayMs > 0) {
        yield* Effect.sleep(Duration.millis(step.delayMs))
        if (request.signal.aborted)
          return yield* new UpstreamAborted({ providerId: plan.targets[step.cursor.index]?.provider.id ?? "" })
      }
      const cursor = { ...step.cursor, attempts: step.cursor.attempts + 1 }
      const target = plan.targets[cursor.index] as RouteTarget
      const startedMs = Date.now()
      const result = yield* Effect.either(gateway.call(upstreamRequest(request, target)))
      if (result._tag === "Right") return succeeded(plan, cursor, result.right, startedMs, health, observer)
      step = afterFailure(plan, cursor, result.left, startedMs, health, observer, random)
    }
    return yield* Effect.fail(step.error)
  })

const start: Step = { _tag: "Attempt", cursor: { index: 0, attempt: 1, attempts: 0 }, delayMs: 0 }

/**
 * Sends a chat request to the model's targets in order until one answers: retries a target
 * while nothing has reached the client (connect errors, 429, 5xx; an upstream's Retry-After is
 * honoured up to the policy's cap), then falls back to the next; targets that keep failing
 * cool down. The table is read once, so a hot reload never changes a request's plan midway.
 */
export const forwardChatCompletion = (
  request: ForwardRequest,
  observer: ForwardObserver,
  random: () => number = Math.random
): Effect.Effect<Forwarded, ForwardError, Routing | ProviderGateway | TargetHealth> =>
  Effect.gen(function* () {
    const table = yield* Effect.flatMap(Routing, (routing) => routing.table)
    const health = yield* TargetHealth
    const plan = yield* planForward(table, request.orgId, request.model, health, random)
    if (plan.targets.length === 0) return yield* new UpstreamUnavailable()
    return yield* runPlan(plan, request, observer, random, start)
  })

/** How a fiber-less first attempt ended: answered, or failed with the rest of the plan still to run. */
export type FirstAttempt =
  | { readonly _tag: "Answered"; readonly forwarded: Forwarded }
  | {
      readonly _tag: "Failed"
      /** The plan carried on after that failure, exactly as `forwardChatCompletion` would. */
      readonly rest: Effect.Effect<Forwarded, ForwardError, ProviderGateway | TargetHealth>
    }

/**
 * The plan's first attempt without a fiber, through the gateway's `callNow`, for the edge's warm
 * path. Most requests end here; a failure hands back the rest of the plan
 * as the same Effect the fiber would have run, so retries, fallback and cooldown follow one set
 * of rules. Returns false, having done nothing, when the first target's kind has no `callNow`.
 */
export const firstAttemptNow = (
  plan: ForwardPlan,
  request: ForwardRequest,
  observer: ForwardObserver,
  health: TargetHealthShape,
  gateway: ProviderGatewayShape,
  done: (outcome: FirstAttempt) => void,
  random: () => number = Math.random
): boolean => {
  const target = plan.targets[0]
  if (gateway.callNow === undefined || target === undefined) return false
  const cursor: Cursor = { index: 0, attempt: 1, attempts: 1 }
  const startedMs = Date.now()
  return gateway.callNow(upstreamRequest(request, target), (result) => {
    if (result._tag === "Right")
      return done({ _tag: "Answered", forwarded: succeeded(plan, cursor, result.right, startedMs, health, observer) })
    const step = afterFailure(plan, cursor, result.left, startedMs, health, observer, random)
    done({ _tag: "Failed", rest: runPlan(plan, request, observer, random, step) })
  })
}
