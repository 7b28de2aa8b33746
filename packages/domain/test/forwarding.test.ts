import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Option, Stream } from "effect"
import {
  decodeRoutingConfig,
  type FirstAttempt,
  type ForwardObserver,
  firstAttemptNow,
  forwardChatCompletion,
  lookupModel,
  makeTargetHealth,
  modelsForOrg,
  orderTargets,
  ProviderGateway,
  type ProviderGatewayShape,
  planForward,
  RoutingStatic,
  type RoutingTable,
  TargetHealth,
  TargetHealthMemory,
  type UpstreamCompletion,
  UpstreamConnectFailed,
  type UpstreamFailure,
  UpstreamHttpError,
  type UpstreamRequest,
  type UpstreamResponse,
  UpstreamTimedOut
} from "../src/index.js"

const env = (n: string) => ({ KEY_A: "a-key", KEY_B: "b-key" })[n]
const orgA = "0190a0b0-0000-7000-8000-000000000001"
const orgB = "0190a0b0-0000-7000-8000-000000000002"

const config = {
  providers: [
    { id: "a", kind: "openai", base_url: "http://127.0.0.1:9000/v1/", api_key_env: "KEY_A" },
    { id: "b", kind: "azure-openai", base_url: "https://b.example", api_key_env: "KEY_B", api_version: "2024-10-21" }
  ],
  models: [
    {
      name: "m1",
      targets: [
        { provider: "a", model: "up-1" },
        { provider: "b", model: "dep-1" }
      ]
    },
    { name: "m2", targets: [{ provider: "b", model: "dep-2" }] }
  ],
  orgs: [{ org_id: orgB, models: ["m2"] }],
  retry: { max_attempts: 2, base_delay_ms: 1, max_delay_ms: 2, retry_after_cap_ms: 50 },
  cooldown: { failures: 2, period_ms: 60_000 }
}

const table = (): RoutingTable => Either.getOrThrow(decodeRoutingConfig(config, env))

describe("decodeRoutingConfig", () => {
  it("decodes the issue's minimal shape and resolves keys by variable name", () => {
    const t = Either.getOrThrow(
      decodeRoutingConfig(
        {
          providers: [{ id: "local", kind: "openai", base_url: "http://127.0.0.1:9000/v1", api_key_env: "LOCAL_KEY" }],
          models: [{ name: "gpt-4o-mini", targets: [{ provider: "local", model: "gpt-4o-mini" }] }]
        },
        (n) => (n === "LOCAL_KEY" ? "secret" : undefined)
      )
    )
    const provider = t.providers.get("local")
    expect(provider?.baseUrl).toBe("http://127.0.0.1:9000/v1")
    expect(Option.isSome(provider?.apiKey ?? Option.none())).toBe(true)
    expect([...t.models.keys()]).toEqual(["gpt-4o-mini"])
  })

  it("reports every problem with its path, and never a key", () => {
    const bad = decodeRoutingConfig(
      {
        providers: [
          { id: "a", kind: "openai", base_url: "ftp://x", api_key_env: "MISSING" },
          { id: "a", kind: "azure-openai", base_url: "https://x", api_key_env: "KEY_A" }
        ],
        models: [{ name: "m", targets: [{ provider: "nope", model: "x" }] }],
        orgs: [{ org_id: orgA, models: ["unknown"] }]
      },
      env
    )
    expect(Either.isLeft(bad)).toBe(true)
    const fields = Either.isLeft(bad) ? bad.left.map((e) => e.field) : []
    expect(fields).toEqual(
      expect.arrayContaining([
        "providers.0.base_url",
        "providers.0.api_key_env",
        "providers.1.id",
        "providers.1.api_version",
        "models.0.targets.0.provider",
        "orgs.0.models.0"
      ])
    )
    expect(JSON.stringify(Either.isLeft(bad) ? bad.left : [])).not.toContain("a-key")
  })

  it("a bad optional section, an undecodable provider's URL and a duplicate id among undecodable providers are all reported with the rest", () => {
    const bad = decodeRoutingConfig(
      {
        providers: [
          { id: "dup", kind: "openaix", base_url: "http://x" },
          { id: "dup", kind: "openai", base_url: "http://y" },
          { id: "ftp", kind: "bogus", base_url: "ftp://a" }
        ],
        models: [{ name: "m", targets: [] }],
        retry: { max_attempts: "two" },
        cooldown: { failures: 0 },
        default_timeouts: { idle_ms: -1 }
      },
      env
    )
    const fields = Either.isLeft(bad) ? bad.left.map((e) => e.field) : []
    expect(fields).toEqual(
      expect.arrayContaining([
        "retry.max_attempts",
        "cooldown.failures",
        "default_timeouts.idle_ms",
        "providers.0.kind",
        "providers.1.id",
        "providers.2.kind",
        "providers.2.base_url",
        "models.0.targets"
      ])
    )
  })

  it("reports the shape's errors and the checks across fields in one load", () => {
    const bad = decodeRoutingConfig(
      {
        providers: [
          { id: "up", kind: "nope", base_url: "http://x", api_key_env: "NOT_SET_ANYWHERE" },
          { id: "ok", kind: "openai", base_url: "http://x", api_key_env: "ALSO_NOT_SET" }
        ],
        models: [
          { name: "x", targets: [{ provider: "ghost", model: "m" }] },
          { name: "y", targets: [{ provider: "up", model: "m" }] },
          { name: "z", targets: [] }
        ],
        orgs: [{ org_id: orgA, models: ["z", "nope"] }],
        extra: 1
      },
      env
    )
    const fields = Either.isLeft(bad) ? bad.left.map((e) => e.field) : []
    expect([...fields].sort()).toEqual(
      [
        "extra",
        "providers.0.kind",
        "providers.0.api_key_env",
        "providers.1.api_key_env",
        "models.0.targets.0.provider",
        "models.2.targets",
        "orgs.0.models.1"
      ].sort()
    )
  })

  it("never repeats a value that may be a key pasted into the wrong field", () => {
    const pasted = "sk-live-0123456789abcdef"
    const azureLike = "0123456789abcdef0123456789abcdef"
    const bad = decodeRoutingConfig(
      {
        providers: [
          { id: "a", kind: "openai", base_url: "https://x", api_key_env: pasted },
          { id: "b", kind: "openai", base_url: "https://x", api_key_env: azureLike },
          { id: "c", kind: "openai", base_url: "https://x", api_key_env: "MISSING_KEY" }
        ],
        models: []
      },
      env
    )
    const text = JSON.stringify(Either.isLeft(bad) ? bad.left : [])
    expect(text).not.toContain(pasted)
    expect(text).not.toContain(azureLike)
    expect(text, "a conventional name is named").toContain("environment variable MISSING_KEY is not set")
    const wrongType = decodeRoutingConfig(
      { providers: [{ id: "a", kind: "openai", base_url: pasted, timeouts: pasted }], models: [] },
      env
    )
    const wrongText = JSON.stringify(Either.isLeft(wrongType) ? wrongType.left : [])
    expect(wrongText).toContain("providers.0.timeouts")
    expect(wrongText).not.toContain(pasted)
  })

  it("refuses unknown fields and wrong types", () => {
    const bad = decodeRoutingConfig({ providers: [], models: [], extra: 1 }, env)
    expect(Either.isLeft(bad)).toBe(true)
    const wrong = decodeRoutingConfig({ providers: [{ id: "x", kind: "grpc", base_url: "http://x" }], models: [] }, env)
    // One error for the kind, naming every kind there is (not one per kind it is not).
    expect(Either.isLeft(wrong) ? wrong.left.map((e) => ({ ...e })) : []).toEqual([
      { field: "providers.0.kind", message: 'must be one of "openai", "azure-openai", "anthropic"' }
    ])
  })

  it("equal configs have equal revisions; a change changes it", () => {
    expect(table().revision).toBe(table().revision)
    const other = Either.getOrThrow(
      decodeRoutingConfig({ ...config, orgs: [], models: config.models.slice(0, 1) }, env)
    )
    expect(other.revision).not.toBe(table().revision)
  })

  it("limits an org to its models", () => {
    const t = table()
    expect(lookupModel(t, orgB, "m1")._tag).toBe("NotAllowed")
    expect(lookupModel(t, orgB, "m2")._tag).toBe("Found")
    expect(lookupModel(t, orgA, "m1")._tag).toBe("Found")
    expect(lookupModel(t, orgA, "zzz")._tag).toBe("NotFound")
    expect(modelsForOrg(t, orgB).map((m) => m.name)).toEqual(["m2"])
    expect(modelsForOrg(t, orgA).map((m) => m.name)).toEqual(["m1", "m2"])
  })
})

describe("orderTargets", () => {
  it("keeps priority order and spreads equal priorities by weight", () => {
    const t = Either.getOrThrow(
      decodeRoutingConfig(
        {
          providers: [
            { id: "a", kind: "openai", base_url: "http://a" },
            { id: "b", kind: "openai", base_url: "http://b" },
            { id: "c", kind: "openai", base_url: "http://c" }
          ],
          models: [
            {
              name: "m",
              targets: [
                { provider: "a", model: "x", priority: 0, weight: 3 },
                { provider: "b", model: "x", priority: 0, weight: 1 },
                { provider: "c", model: "x", priority: 1 }
              ]
            }
          ]
        },
        env
      )
    )
    const route = t.models.get("m")?.targets ?? []
    let firstA = 0
    let seed = 1
    const random = () => {
      seed = (seed * 16807) % 2147483647
      return seed / 2147483647
    }
    for (let i = 0; i < 4000; i++) {
      const order = orderTargets(route, random).map((x) => x.provider.id)
      expect(order).toHaveLength(3)
      expect(order[2]).toBe("c")
      if (order[0] === "a") firstA++
    }
    expect(firstA / 4000).toBeGreaterThan(0.7)
    expect(firstA / 4000).toBeLessThan(0.8)
  })
})

// ---- forwarding: a scripted gateway ----

type Script = Record<string, Array<UpstreamFailure | "ok">>

const completion: UpstreamResponse = {
  _tag: "Completion",
  body: "{}",
  usage: Option.none(),
  providerRequestId: Option.none()
}

const scripted = (script: Script, calls: Array<string>) =>
  Layer.succeed(ProviderGateway, {
    call: (request: UpstreamRequest) =>
      Effect.suspend(() => {
        const key = `${request.target.providerId}/${request.target.model}`
        calls.push(key)
        const next = script[key]?.shift() ?? "ok"
        return next === "ok" ? Effect.succeed(completion) : Effect.fail(next)
      })
  })

const observed = () => {
  const events: Array<string> = []
  const observer: ForwardObserver = {
    attempt: (t, outcome) => events.push(`attempt ${t.provider.id} ${outcome}`),
    retry: (t) => events.push(`retry ${t.provider.id}`),
    fallback: (t) => events.push(`fallback ${t.provider.id}`)
  }
  return { events, observer }
}

const forward = (script: Script, model = "m1", orgId = orgA) => {
  const calls: Array<string> = []
  const { events, observer } = observed()
  const run = forwardChatCompletion(
    {
      orgId,
      model,
      body: { model, messages: [] },
      stream: false,
      headers: {},
      signal: new AbortController().signal
    },
    observer,
    () => 0
  ).pipe(Effect.provide(Layer.mergeAll(RoutingStatic(table()), scripted(script, calls), TargetHealthMemory)))
  return { run, calls, events }
}

const http = (status: number, retryAfterMs?: number) =>
  new UpstreamHttpError({
    providerId: "x",
    status,
    retryAfterMs: Option.fromNullable(retryAfterMs),
    message: `status ${status}`
  })

describe("forwardChatCompletion", () => {
  it.live("answers from the first target when it works", () =>
    Effect.gen(function* () {
      const f = forward({})
      const r = yield* f.run
      expect(r.target.provider.id).toBe("a")
      expect(r.attempts).toBe(1)
      expect(f.calls).toEqual(["a/up-1"])
    })
  )

  it.live("retries a 503 on the same target, then falls back", () =>
    Effect.gen(function* () {
      const f = forward({ "a/up-1": [http(503), http(503)] })
      const r = yield* f.run
      expect(f.calls).toEqual(["a/up-1", "a/up-1", "b/dep-1"])
      expect(r.target.provider.id).toBe("b")
      expect(r.attempts).toBe(3)
      expect(f.events).toEqual(["attempt a http_503", "retry a", "attempt a http_503", "fallback a", "attempt b ok"])
    })
  )

  it.live("a Retry-After above the cap falls back instead of waiting", () =>
    Effect.gen(function* () {
      const f = forward({ "a/up-1": [http(429, 10_000)] })
      yield* f.run
      expect(f.calls).toEqual(["a/up-1", "b/dep-1"])
    })
  )

  it.live("a timeout before the headers falls back at once", () =>
    Effect.gen(function* () {
      const f = forward({ "a/up-1": [new UpstreamTimedOut({ providerId: "a", phase: "first_byte" })] })
      yield* f.run
      expect(f.calls).toEqual(["a/up-1", "b/dep-1"])
    })
  )

  it.live("a provider 400 goes back to the client with its status and message, no fallback", () =>
    Effect.gen(function* () {
      const f = forward({ "a/up-1": [http(400)] })
      const e = yield* Effect.flip(f.run)
      expect(e).toMatchObject({ _tag: "UpstreamRejected", status: 400, providerMessage: "status 400" })
      expect(f.calls).toEqual(["a/up-1"])
    })
  )

  it.live("every target failing: the last failure decides the error", () =>
    Effect.gen(function* () {
      const conn = new UpstreamConnectFailed({ providerId: "x", detail: "ECONNREFUSED" })
      const e1 = yield* Effect.flip(forward({ "a/up-1": [conn, conn], "b/dep-1": [conn, conn] }).run)
      expect(e1._tag).toBe("UpstreamError")
      const e2 = yield* Effect.flip(forward({ "b/dep-2": [http(429, 20), http(429, 20)] }, "m2").run)
      expect(e2).toMatchObject({ _tag: "UpstreamRateLimited", retryAfterMs: 20 })
      const timeout = new UpstreamTimedOut({ providerId: "x", phase: "connect" })
      const e3 = yield* Effect.flip(forward({ "b/dep-2": [timeout] }, "m2").run)
      expect(e3._tag).toBe("UpstreamTimeout")
    })
  )

  it.live("unknown and disallowed models", () =>
    Effect.gen(function* () {
      expect((yield* Effect.flip(forward({}, "nope").run))._tag).toBe("ModelNotFound")
      expect((yield* Effect.flip(forward({}, "m1", orgB).run))._tag).toBe("ModelNotAllowed")
    })
  )

  it.live("a target that keeps failing cools down and is skipped", () =>
    Effect.gen(function* () {
      const calls: Array<string> = []
      const { observer } = observed()
      const conn = () => new UpstreamConnectFailed({ providerId: "a", detail: "ECONNREFUSED" })
      const gateway = scripted({ "a/up-1": [conn(), conn(), conn(), conn()] }, calls)
      const layer = Layer.mergeAll(RoutingStatic(table()), gateway, TargetHealthMemory)
      const once = forwardChatCompletion(
        { orgId: orgA, model: "m1", body: {}, stream: false, headers: {}, signal: new AbortController().signal },
        observer,
        () => 0
      )
      yield* Effect.gen(function* () {
        yield* once // a fails twice (cooldown starts), b answers
        const health = yield* TargetHealth
        expect(health.coolingForMs("a\u0000up-1", Date.now())).toBeGreaterThan(0)
        calls.length = 0
        yield* once
        expect(calls).toEqual(["b/dep-1"])
      }).pipe(Effect.provide(layer))
    })
  )

  /** Model m2 (one target, b/dep-2) with this cooldown and script: one request as an Effect, and the calls made. */
  const coolingM2 = (cooldown: { failures: number; period_ms: number }, script: Script) => {
    const calls: Array<string> = []
    const table = Either.getOrThrow(decodeRoutingConfig({ ...config, cooldown }, env))
    const layer = Layer.mergeAll(RoutingStatic(table), scripted(script, calls), TargetHealthMemory)
    const once = forwardChatCompletion(
      { orgId: orgA, model: "m2", body: {}, stream: false, headers: {}, signal: new AbortController().signal },
      observed().observer,
      () => 0
    )
    return { calls, layer, once }
  }

  it.live(
    "every target cooling: 503 UPSTREAM_UNAVAILABLE with no call; when the cooldown ends one failure starts the next",
    () =>
      Effect.gen(function* () {
        const conn = () => new UpstreamConnectFailed({ providerId: "b", detail: "ECONNREFUSED" })
        const { calls, layer, once } = coolingM2(
          // The cooldown ends at 300 ms and probation at 600: waking at ~350 ms leaves a loaded
          // machine 250 ms of slack.
          { failures: 2, period_ms: 300 },
          { "b/dep-2": [conn(), conn(), conn(), conn()] }
        )
        yield* Effect.gen(function* () {
          expect((yield* Effect.flip(once))._tag).toBe("UpstreamError") // two attempts: the cooldown starts
          expect(calls).toEqual(["b/dep-2", "b/dep-2"])
          for (let i = 0; i < 3; i++) expect((yield* Effect.flip(once))._tag).toBe("UpstreamUnavailable")
          expect(calls).toHaveLength(2)
          yield* Effect.sleep("350 millis")
          // On probation: one failure (not `failures` in a row) cools it again.
          expect((yield* Effect.flip(once))._tag).toBe("UpstreamError")
          expect(calls).toHaveLength(3)
          expect((yield* Effect.flip(once))._tag).toBe("UpstreamUnavailable")
          expect(calls).toHaveLength(3)
        }).pipe(Effect.provide(layer))
      })
  )

  it.live(
    "a provider's 400 (the caller's fault) never cools a target: one tenant's bad requests do not take the model from the others",
    () =>
      Effect.gen(function* () {
        const { calls, layer, once } = coolingM2(
          { failures: 1, period_ms: 60_000 },
          { "b/dep-2": [http(400), http(400), http(400)] }
        )
        yield* Effect.gen(function* () {
          for (let i = 0; i < 3; i++) expect((yield* Effect.flip(once))._tag).toBe("UpstreamRejected")
          const r = yield* once
          expect(r.target.model).toBe("dep-2")
          expect(calls).toHaveLength(4)
        }).pipe(Effect.provide(layer))
      })
  )

  it("probation lasts one period after a cooldown: a failure past it counts afresh", () => {
    const health = makeTargetHealth()
    const policy = { failures: 2, periodMs: 100 }
    expect(health.recordFailure("t", policy, 0)).toBe(false)
    expect(health.recordFailure("t", policy, 1)).toBe(true) // cools until 101
    expect(health.coolingForMs("t", 50)).toBe(51)
    expect(health.recordFailure("t", policy, 150)).toBe(true) // on probation (101–201): at once
    expect(health.recordFailure("t", policy, 400)).toBe(false) // probation (250–350) over: counts afresh
    expect(health.recordFailure("t", policy, 401)).toBe(true)
  })

  it.live("stream answers are returned as they are", () =>
    Effect.gen(function* () {
      const stream: UpstreamResponse = { _tag: "Stream", providerRequestId: Option.none(), chunks: Stream.empty }
      const layer = Layer.mergeAll(
        RoutingStatic(table()),
        Layer.succeed(ProviderGateway, { call: () => Effect.succeed(stream) }),
        TargetHealthMemory
      )
      const r = yield* forwardChatCompletion(
        { orgId: orgA, model: "m1", body: {}, stream: true, headers: {}, signal: new AbortController().signal },
        observed().observer
      ).pipe(Effect.provide(layer))
      expect(r.response._tag).toBe("Stream")
    })
  )
})

describe("firstAttemptNow (the edge's fiber-less first attempt)", () => {
  // The same script through both ways: the fiber's `forwardChatCompletion`, and a callback first
  // attempt whose failure hands the rest of the plan back as an Effect.
  const viaFirstAttempt = (script: Script, model = "m1") =>
    Effect.gen(function* () {
      const calls: Array<string> = []
      const { events, observer } = observed()
      const gatewayLayer = scripted(script, calls)
      const gateway = yield* Effect.provide(ProviderGateway, gatewayLayer)
      const callNow: NonNullable<ProviderGatewayShape["callNow"]> = (request, done) => {
        const key = `${request.target.providerId}/${request.target.model}`
        calls.push(`now ${key}`)
        const next = script[key]?.shift() ?? "ok"
        done(next === "ok" ? Either.right(completion as UpstreamCompletion) : Either.left(next))
        return true
      }
      const health = makeTargetHealth()
      const request = {
        orgId: orgA,
        model,
        body: { model, messages: [] },
        stream: false,
        headers: {},
        signal: new AbortController().signal
      }
      const plan = Either.getOrThrow(planForward(table(), orgA, model, health, () => 0))
      const outcome = yield* Effect.async<FirstAttempt>((resume) => {
        const took = firstAttemptNow(plan, request, observer, health, { ...gateway, callNow }, (o) =>
          resume(Effect.succeed(o))
        )
        if (!took) resume(Effect.die("not taken"))
      })
      const result =
        outcome._tag === "Answered"
          ? Either.right(outcome.forwarded)
          : yield* Effect.either(
              outcome.rest.pipe(Effect.provide(Layer.merge(gatewayLayer, Layer.succeed(TargetHealth, health))))
            )
      return { result, calls, events }
    })

  it.live("answered at once: one callback attempt, nothing else", () =>
    Effect.gen(function* () {
      const r = yield* viaFirstAttempt({})
      expect(r.calls).toEqual(["now a/up-1"])
      expect(r.events).toEqual(["attempt a ok"])
      expect(Either.getOrThrow(r.result).attempts).toBe(1)
    })
  )

  it.live("a failed first attempt carries on exactly as forwardChatCompletion: retry, fallback, same events", () =>
    Effect.gen(function* () {
      const script = (): Script => ({ "a/up-1": [http(503), http(503)] })
      const long = forward(script())
      const longResult = yield* long.run
      const now = yield* viaFirstAttempt(script())
      expect(now.calls).toEqual(["now a/up-1", "a/up-1", "b/dep-1"])
      expect(now.calls.map((c) => c.replace("now ", ""))).toEqual(long.calls)
      expect(now.events).toEqual(long.events)
      const forwarded = Either.getOrThrow(now.result)
      expect(forwarded.target.provider.id).toBe(longResult.target.provider.id)
      expect(forwarded.attempts).toBe(longResult.attempts)
    })
  )

  it.live("a failure the client must see ends the same way: a provider 400 is not retried", () =>
    Effect.gen(function* () {
      const now = yield* viaFirstAttempt({ "a/up-1": [http(400)] })
      expect(now.calls).toEqual(["now a/up-1"])
      expect(Either.isLeft(now.result) ? now.result.left : undefined).toMatchObject({
        _tag: "UpstreamRejected",
        status: 400
      })
    })
  )

  it.live("a gateway without callNow is not taken (nothing done); a streamed request is", () =>
    Effect.gen(function* () {
      const health = makeTargetHealth()
      const plan = Either.getOrThrow(planForward(table(), orgA, "m1", health, () => 0))
      const request = {
        orgId: orgA,
        model: "m1",
        body: {},
        stream: false,
        headers: {},
        signal: new AbortController().signal
      }
      const { events, observer } = observed()
      const call = () => Effect.succeed(completion)
      expect(firstAttemptNow(plan, request, observer, health, { call }, () => undefined)).toBe(false)
      expect(events).toEqual([])
      const streamed: Array<boolean> = []
      const callNow: NonNullable<ProviderGatewayShape["callNow"]> = (r, done) => {
        streamed.push(r.stream)
        done(Either.right(completion))
        return true
      }
      expect(firstAttemptNow(plan, { ...request, stream: true }, observer, health, { call, callNow }, () => {})).toBe(
        true
      )
      expect(streamed).toEqual([true])
    })
  )
})
