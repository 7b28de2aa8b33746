import { createServer } from "node:net"
import { TokenValidator } from "@ibex/auth-core"
import type { Principal } from "@ibex/domain"
import { setupTwoOrgs } from "@ibex/testkit"
import { Effect, Exit, Layer, ManagedRuntime, Option, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { AuthGatewayGrpc, AuthGrpcServer, AuthGrpcServerLive } from "../src/index.js"
import { CapturingLogger, memoryAuthServices, memoryStack } from "./harness.js"

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer()
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })

const tagOf = (exit: Exit.Exit<unknown, { _tag: string }>) =>
  Exit.isSuccess(exit) ? "success" : exit.cause._tag === "Fail" ? exit.cause.error._tag : exit.cause._tag

describe("AuthGatewayGrpc (client)", () => {
  it("fails closed and fast when nothing listens: ServiceDegraded / AuthUnavailable", async () => {
    const port = await freePort()
    // A long deadline: failing well before it proves the refusal itself answers (no wait-for-ready).
    const rt = ManagedRuntime.make(AuthGatewayGrpc({ target: `127.0.0.1:${port}`, deadlineMs: 2_000 }))
    const { AuthGateway } = await import("@ibex/domain")
    await rt.runtime()
    const timings: Array<number> = []
    let v: Exit.Exit<unknown, { _tag: string }> = Exit.void
    for (let i = 0; i < 5; i++) {
      const started = performance.now()
      v = await rt.runPromiseExit(Effect.flatMap(AuthGateway, (g) => g.validateToken(Redacted.make("ibex_pat_x"))))
      timings.push(performance.now() - started)
      expect(tagOf(v)).toBe("ServiceDegraded")
    }
    const a = await rt.runPromiseExit(
      Effect.flatMap(AuthGateway, (g) =>
        g.verifyAgent("00000000-0000-4000-8000-000000000000" as never, "00000000-0000-4000-8000-000000000000" as never)
      )
    )
    await rt.dispose()
    expect(tagOf(v)).toBe("ServiceDegraded")
    expect(tagOf(a)).toBe("AuthUnavailable")
    console.info(`refused connection: ValidateToken failed after ${timings.map((t) => t.toFixed(1)).join(", ")} ms`)
    for (const t of timings) expect(t).toBeLessThan(250)
  })

  it("a slow server hits the 50 ms deadline: ServiceDegraded", async () => {
    const slowValidator = Layer.succeed(
      TokenValidator,
      TokenValidator.of({
        validate: () => Effect.as(Effect.sleep("300 millis"), {} as Principal),
        evict: () => Effect.void,
        stats: Effect.succeed({ entries: 0, negativeEntries: 0, trusted: true, hashes: 0 })
      })
    )
    const server = AuthGrpcServerLive({ host: "127.0.0.1", port: 0 }).pipe(
      Layer.provide(slowValidator),
      Layer.provideMerge(memoryAuthServices())
    )
    const stack = Layer.unwrapEffect(Effect.map(AuthGrpcServer, (s) => AuthGatewayGrpc({ target: s.address }))).pipe(
      Layer.provideMerge(server),
      Layer.provide(CapturingLogger)
    )
    const rt = ManagedRuntime.make(stack)
    const { AuthGateway } = await import("@ibex/domain")
    // Warm the connection first: the deadline is about the call, not the first connect.
    await rt.runPromiseExit(Effect.flatMap(AuthGateway, (g) => g.validateToken(Redacted.make("warm"))))
    const started = performance.now()
    const exit = await rt.runPromiseExit(Effect.flatMap(AuthGateway, (g) => g.validateToken(Redacted.make("x"))))
    const elapsed = performance.now() - started
    // A caller that asks for longer (the proxy's background refresh) is given it.
    const longStarted = performance.now()
    await rt.runPromiseExit(
      Effect.flatMap(AuthGateway, (g) => g.authorize(Redacted.make("y"), Option.none(), { deadlineMs: 2_000 }))
    )
    const longElapsed = performance.now() - longStarted
    await rt.dispose()
    expect(longElapsed, "the longer deadline asked for is the call's").toBeGreaterThanOrEqual(250)
    expect(tagOf(exit)).toBe("ServiceDegraded")
    expect(elapsed).toBeGreaterThanOrEqual(45)
    expect(elapsed).toBeLessThan(200)
  })

  it("the budget judges the server, not this process: a reply ready while the event loop was blocked past the budget is taken", async () => {
    const rt = ManagedRuntime.make(memoryStack({ deadlineMs: 50 }))
    const { AuthGateway } = await import("@ibex/domain")
    const { orgA } = await rt.runPromise(setupTwoOrgs())
    const authorize = () =>
      rt.runPromiseExit(Effect.flatMap(AuthGateway, (g) => g.authorize(orgA.token, Option.none())))
    try {
      // Channel open, token validated once (its Argon2id and the server's cache are behind us).
      expect(tagOf(await authorize())).toBe("success")
      const pending = authorize()
      // This process busy for 3 budgets (a burst of connections, a long turn): the server could
      // not answer meanwhile either, and the budget's timer is due long before anyone reads.
      const until = performance.now() + 150
      while (performance.now() < until) {
        // busy
      }
      expect(tagOf(await pending), "a late timer is not the server's fault").toBe("success")
    } finally {
      await rt.dispose()
    }
  })

  it("reconnects to a restarted server without a new client", async () => {
    const port = await freePort()
    const services = memoryAuthServices()
    const serverLayer = AuthGrpcServerLive({ host: "127.0.0.1", port, shutdownTimeoutMs: 200 })
    // One client for the whole test, its own runtime.
    const clientRt = ManagedRuntime.make(AuthGatewayGrpc({ target: `127.0.0.1:${port}`, deadlineMs: 200 }))
    const { AuthGateway } = await import("@ibex/domain")
    const servicesRt = ManagedRuntime.make(services)
    const ctx = await servicesRt.runtime()
    const { orgA } = await servicesRt.runPromise(setupTwoOrgs())
    const validate = () =>
      clientRt.runPromiseExit(Effect.flatMap(AuthGateway, (g) => g.validateToken(orgA.tokens.chatOnly.token)))
    const startServer = () =>
      ManagedRuntime.make(
        serverLayer.pipe(Layer.provide(Layer.succeedContext(ctx.context)), Layer.provide(CapturingLogger))
      )

    const first = startServer()
    await first.runPromise(AuthGrpcServer)
    expect(tagOf(await validate())).toBe("success")
    await first.dispose()
    expect(tagOf(await validate())).toBe("ServiceDegraded")

    const second = startServer()
    await second.runPromise(AuthGrpcServer)
    const restarted = performance.now()
    let recovered = -1
    while (performance.now() - restarted < 5_000) {
      if (tagOf(await validate()) === "success") {
        recovered = performance.now() - restarted
        break
      }
      await new Promise((r) => setTimeout(r, 10))
    }
    await second.dispose()
    await clientRt.dispose()
    await servicesRt.dispose()
    console.info(`auth client reconnected ${recovered.toFixed(0)} ms after the server came back`)
    expect(recovered).toBeGreaterThanOrEqual(0)
    expect(recovered).toBeLessThan(1_500)
  })
})
