import { Duration, Effect, Option } from "effect"
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
import { Routing } from "./Routing.js"
import { lookupModel, orderTargets, type RetryPolicy, type RouteTarget } from "./RoutingTable.js"
import { TargetHealth, targetKey } from "./TargetHealth.js"
import {
  ProviderGateway,
  UpstreamAborted,
  type UpstreamFailure,
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
  readonly signal: AbortSignal
}

/** Hooks for metrics and spans at the edge; the use case itself knows no metrics library. */
export interface ForwardObserver {
  readonly attempt: (target: RouteTarget, outcome: "ok" | UpstreamFailure["_tag"], durationMs: number) => void
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
        return new UpstreamRejected({ status: failure.status, providerMessage: failure.message })
      return new UpstreamError()
  }
}

const toUpstreamTarget = (t: RouteTarget): UpstreamTarget => ({
  providerId: t.provider.id,
  kind: t.provider.kind,
  baseUrl: t.provider.baseUrl,
  apiKey: t.provider.apiKey,
  apiVersion: t.provider.apiVersion,
  model: t.model,
  timeouts: t.provider.timeouts
})

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
    const routing = yield* Routing
    const table = yield* routing.table
    const found = lookupModel(table, request.orgId, request.model)
    if (found._tag === "NotFound") return yield* new ModelNotFound()
    if (found._tag === "NotAllowed") return yield* new ModelNotAllowed()
    const gateway = yield* ProviderGateway
    const health = yield* TargetHealth
    const now = Date.now()
    const ordered = orderTargets(found.route.targets, random)
    const healthy = ordered.filter((t) => health.coolingForMs(targetKey(t.provider.id, t.model), now) === 0)
    // All cooling: probe the first once rather than refuse outright (a lone target recovers this way).
    const plan = healthy.length > 0 ? healthy : ordered.slice(0, 1)
    const probing = healthy.length === 0
    const policy = probing ? { ...table.retry, maxAttempts: 1 } : table.retry
    let attempts = 0
    let last: UpstreamFailure | undefined
    for (let i = 0; i < plan.length; i++) {
      const target = plan[i] as RouteTarget
      const key = targetKey(target.provider.id, target.model)
      const upstream = toUpstreamTarget(target)
      for (let attempt = 1; ; attempt++) {
        attempts++
        const started = Date.now()
        const result = yield* Effect.either(
          gateway.call({
            target: upstream,
            body: request.body,
            stream: request.stream,
            headers: request.headers,
            signal: request.signal
          })
        )
        if (result._tag === "Right") {
          observer.attempt(target, "ok", Date.now() - started)
          health.recordSuccess(key)
          return { response: result.right, target, attempts }
        }
        const failure = result.left
        observer.attempt(target, failure._tag, Date.now() - started)
        last = failure
        const verdict = verdictFor(failure, policy, attempt, random)
        if (failure._tag !== "UpstreamRequestUnsupported" && failure._tag !== "UpstreamAborted")
          health.recordFailure(key, table.cooldown, Date.now())
        if (verdict._tag === "Stop") return yield* Effect.fail(toForwardError(failure))
        if (verdict._tag === "NextTarget") {
          if (i < plan.length - 1) observer.fallback(target)
          break
        }
        observer.retry(target)
        yield* Effect.sleep(Duration.millis(verdict.delayMs))
        if (request.signal.aborted) return yield* new UpstreamAborted({ providerId: target.provider.id })
      }
    }
    if (last === undefined) return yield* new UpstreamUnavailable()
    return yield* Effect.fail(toForwardError(last))
  })
