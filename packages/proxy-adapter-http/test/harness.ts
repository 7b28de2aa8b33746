import {
  AuthGateway,
  type AuthGatewayShape,
  AuthUnavailable,
  authGatewayFromChecks,
  InvalidToken,
  type OrgId,
  Permissions,
  type Principal,
  RateLimiter,
  ServiceDegraded,
  type TokenId
} from "@ibex/domain"
import {
  authStackMemory,
  MemoryDatabase,
  RateLimiterMemory,
  RateLimiterMemoryControl,
  setupTwoOrgs,
  type TestOrgContext
} from "@ibex/testkit"
import { NoForwarding } from "@ibex/testkit/upstream"
import { Effect, Layer, Logger, ManagedRuntime, Redacted } from "effect"
import { ProxyConfig, type ProxyConfigInput, ProxyHttpLive, ProxyServer } from "../src/index.js"

/** Every log line the server wrote, as the JSON logger rendered it. */
export const captureLogs = () => {
  const lines: Array<string> = []
  const layer = Logger.replace(
    Logger.defaultLogger,
    Logger.map(Logger.jsonLogger, (line) => {
      lines.push(line)
    })
  )
  return { lines, layer }
}

/** Counts the proxy's calls into auth, to prove what runs before any auth call. */
export const authCalls = { validate: 0, verify: 0 }
const CountingAuthGateway = Layer.effect(
  AuthGateway,
  Effect.map(AuthGateway, (inner) =>
    AuthGateway.of(
      authGatewayFromChecks({
        validateToken: (t) =>
          Effect.suspend(() => {
            authCalls.validate++
            return inner.validateToken(t)
          }),
        verifyAgent: (o, a) =>
          Effect.suspend(() => {
            authCalls.verify++
            return inner.verifyAgent(o, a)
          }),
        invalidations: inner.invalidations
      })
    )
  )
)

export interface Wire {
  readonly orgId: string
  readonly agentId: string
  readonly agents: TestOrgContext["agents"]
  readonly token: string
  readonly tokens: Record<keyof TestOrgContext["tokens"], string>
}

const toWire = (o: TestOrgContext): Wire => ({
  orgId: o.orgId,
  agentId: o.agentId,
  agents: o.agents,
  token: Redacted.value(o.token),
  tokens: Object.fromEntries(Object.entries(o.tokens).map(([k, v]) => [k, Redacted.value(v.token)])) as Wire["tokens"]
})

/** The proxy over the in-memory auth stack and the in-memory limiter, on a real socket (port 0). */
export const startMemoryProxy = async (config: ProxyConfigInput = {}) => {
  const logs = captureLogs()
  const deps = Layer.mergeAll(
    CountingAuthGateway.pipe(Layer.provideMerge(authStackMemory())),
    RateLimiterMemory,
    NoForwarding,
    ProxyConfig.layer({ port: 0, host: "127.0.0.1", processMetrics: false, ...config })
  )
  const runtime = ManagedRuntime.make(ProxyHttpLive.pipe(Layer.provideMerge(deps), Layer.provide(logs.layer)))
  const server = await runtime.runPromise(ProxyServer)
  const twoOrgs = async (rateLimitPerMinute: number | null = 1_000_000) => {
    const { orgA, orgB } = await runtime.runPromise(setupTwoOrgs({ rateLimitPerMinute }))
    return { orgA: toWire(orgA), orgB: toWire(orgB) }
  }
  return {
    url: server.url,
    adminUrl: server.adminUrl,
    server,
    logs: logs.lines,
    twoOrgs,
    setDatabaseFailing: (failing: boolean) =>
      runtime.runPromise(
        Effect.map(MemoryDatabase, (db) => {
          db.failing = failing
        })
      ),
    setLimiterAvailable: (available: boolean) =>
      runtime.runPromise(Effect.flatMap(RateLimiterMemoryControl, (c) => c.setAvailable(available))),
    close: () => runtime.dispose()
  }
}

export const fixedOrg = "0190a0b0-0000-7000-8000-000000000001" as OrgId
export const fixedAgent = "0190a0b0-0000-7000-8000-0000000000a1"

/** A scripted AuthGateway for failure modes the memory stack cannot produce on its own. */
export const scriptedGateway = (shape: Partial<Pick<AuthGatewayShape, "validateToken" | "verifyAgent">>) =>
  Layer.succeed(
    AuthGateway,
    authGatewayFromChecks({
      validateToken: (t) =>
        Redacted.value(t) === "good"
          ? Effect.succeed<Principal>({
              orgId: fixedOrg,
              tokenId: "0190a0b0-0000-7000-8000-0000000000f1" as TokenId,
              permissions: Permissions.all,
              expiresAt: null,
              rateLimitPerMinute: null,
              tokensPerMinute: null,
              monthlyBudgetMicroUsd: null
            })
          : Effect.fail(new InvalidToken({ reason: "unknown" })),
      verifyAgent: () => Effect.void,
      ...shape
    })
  )

export const startScriptedProxy = async (gateway: Layer.Layer<AuthGateway>, config: ProxyConfigInput = {}) => {
  const logs = captureLogs()
  const deps = Layer.mergeAll(
    gateway,
    RateLimiterMemory,
    NoForwarding,
    ProxyConfig.layer({ port: 0, host: "127.0.0.1", processMetrics: false, ...config })
  )
  const runtime = ManagedRuntime.make(ProxyHttpLive.pipe(Layer.provideMerge(deps), Layer.provide(logs.layer)))
  const server = await runtime.runPromise(ProxyServer)
  return {
    url: server.url,
    logs: logs.lines,
    setLimiterAvailable: (available: boolean) =>
      runtime.runPromise(Effect.flatMap(RateLimiterMemoryControl, (c) => c.setAvailable(available))),
    close: () => runtime.dispose()
  }
}

export { AuthUnavailable, RateLimiter, ServiceDegraded }
