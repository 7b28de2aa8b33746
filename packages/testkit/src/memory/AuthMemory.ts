import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import {
  AgentVerifier,
  AgentVerifierLive,
  InvalidationHub,
  InvalidationHubLive,
  type InvalidationHubOptions,
  TokenValidator,
  TokenValidatorLive,
  type TokenValidatorOptions
} from "@ibex/auth-core"
import {
  AgentVerdict,
  type AuditEvent,
  AuditLog,
  AuthGateway,
  AuthUnavailable,
  SecretHasher,
  SecureRandomWebCrypto,
  ServiceDegraded,
  TokenDigest
} from "@ibex/domain"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { StoresMemory } from "./StoresMemory.js"

/**
 * A fast stand-in for Argon2id with the same contract (salted, one-way, constant-time verify),
 * and a call counter so tests can prove the cache keeps hashing off the hot path.
 */
export interface HasherCalls {
  hash: number
  verify: number
}
export class SecretHasherCalls extends Context.Tag("@ibex/testkit/SecretHasherCalls")<
  SecretHasherCalls,
  HasherCalls
>() {}

const fastHash = (salt: Buffer, secret: string) => createHmac("sha256", salt).update(secret).digest()

export const SecretHasherMemory = Layer.effectContext(
  Effect.sync(() => {
    const calls: HasherCalls = { hash: 0, verify: 0 }
    const hasher = SecretHasher.of({
      hash: (secret) =>
        Effect.sync(() => {
          calls.hash++
          const salt = randomBytes(16)
          return `$memhash$${salt.toString("base64url")}$${fastHash(salt, Redacted.value(secret)).toString("base64url")}`
        }),
      verify: (hash, secret) =>
        Effect.sync(() => {
          calls.verify++
          const [, tag, salt, digest] = hash.split("$")
          if (tag !== "memhash" || salt === undefined || digest === undefined) return false
          const expected = Buffer.from(digest, "base64url")
          const actual = fastHash(Buffer.from(salt, "base64url"), Redacted.value(secret))
          return expected.length === actual.length && timingSafeEqual(expected, actual)
        })
    })
    return Context.make(SecretHasher, hasher).pipe(Context.add(SecretHasherCalls, calls))
  })
)

/** HMAC-SHA256 with a per-layer random pepper. */
export const TokenDigestMemory = Layer.sync(TokenDigest, () => {
  const pepper = randomBytes(32)
  return TokenDigest.of({
    digest: (token) => createHmac("sha256", pepper).update(Redacted.value(token)).digest("base64url")
  })
})

export class AuditEvents extends Context.Tag("@ibex/testkit/AuditEvents")<AuditEvents, Array<AuditEvent>>() {}

export const AuditLogMemory = Layer.effectContext(
  Effect.sync(() => {
    const events: Array<AuditEvent> = []
    return Context.make(AuditLog, AuditLog.of({ record: (event) => Effect.sync(() => void events.push(event)) })).pipe(
      Context.add(AuditEvents, events)
    )
  })
)

/**
 * The proxy's view of auth, answered in-process by the same use cases the gRPC server runs.
 * Store outages map to the fail-closed errors exactly as the gRPC client maps UNAVAILABLE.
 */
export const AuthGatewayMemory = Layer.effect(
  AuthGateway,
  Effect.gen(function* () {
    const validator = yield* TokenValidator
    const agents = yield* AgentVerifier
    const hub = yield* InvalidationHub
    return AuthGateway.of({
      authorize: (token, agentId) =>
        Effect.gen(function* () {
          const principal = yield* validator
            .validate(token)
            .pipe(Effect.catchTag("StoreUnavailable", () => Effect.fail(new ServiceDegraded())))
          if (Option.isNone(agentId)) return { principal, agent: Option.none() }
          const verdict = yield* agents.verify(principal.orgId, agentId.value).pipe(
            Effect.as(AgentVerdict.Authorized()),
            Effect.catchTags({
              AgentNotAuthorized: () => Effect.succeed(AgentVerdict.NotAuthorized()),
              AgentSuspended: (e) => Effect.succeed(AgentVerdict.Suspended({ status: e.status })),
              StoreUnavailable: () => Effect.succeed(AgentVerdict.Unavailable())
            })
          )
          return { principal, agent: Option.some(verdict) }
        }),
      invalidations: hub.subscribe,
      validateToken: (token) =>
        validator.validate(token).pipe(Effect.catchTag("StoreUnavailable", () => Effect.fail(new ServiceDegraded()))),
      verifyAgent: (orgId, agentId) =>
        agents.verify(orgId, agentId).pipe(
          Effect.asVoid,
          Effect.catchTag("StoreUnavailable", () => Effect.fail(new AuthUnavailable()))
        )
    })
  })
)

/** Everything auth needs, in memory: stores, hasher, digest, audit, random, the caching validator and the invalidation hub. */
export const authServicesMemory = (options?: TokenValidatorOptions, hubOptions?: InvalidationHubOptions) => {
  const base = Layer.mergeAll(
    StoresMemory,
    SecretHasherMemory,
    TokenDigestMemory,
    AuditLogMemory,
    SecureRandomWebCrypto
  )
  return Layer.mergeAll(TokenValidatorLive(options), AgentVerifierLive(), InvalidationHubLive(hubOptions)).pipe(
    Layer.provideMerge(base)
  )
}

/** The in-memory auth services plus the AuthGateway the proxy consumes. */
export const authStackMemory = (options?: TokenValidatorOptions) =>
  AuthGatewayMemory.pipe(Layer.provideMerge(authServicesMemory(options)))
