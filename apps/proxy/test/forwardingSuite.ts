import { Socket } from "node:net"
import { makeRoutingState, Routing, type RoutingState } from "@ibex/domain"
import { setupOrg, type TestOrgContext } from "@ibex/testkit"
import { type MockUpstream, startMockUpstream } from "@ibex/testkit/upstream"
import { Effect, Layer, Redacted } from "effect"
import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { eventually, startProxyStack } from "./stack.js"

/**
 * Forwarding end to end: the official `openai` client → the proxy as the app composes it (real
 * auth over gRPC, the provider adapters over real HTTP) → the mock upstream speaking OpenAI's,
 * Azure's and Anthropic's wire formats, misbehaving on request. Run twice: traced (every request
 * in a fiber, spans exported) and untraced (a warm non-streamed chat takes the fiber-less path,
 * chat/warmChat.ts), so both paths answer every row alike.
 */

/** Registers every forwarding row, on a proxy with tracing on or off. */
export const forwardingSuite = (tracing: boolean) => {
  const MOCK_KEY = "mock-provider-key-0123456789abcdef"
  process.env.IBEX_TEST_MOCK_KEY = MOCK_KEY

  let mock: MockUpstream
  let state: RoutingState
  let stack: Awaited<ReturnType<typeof startProxyStack>>
  let org: TestOrgContext
  let client: OpenAI

  const routes = (url: string, extra: { orgs?: unknown } = {}) => ({
    providers: [
      { id: "oai", kind: "openai", base_url: `${url}/v1`, api_key_env: "IBEX_TEST_MOCK_KEY" },
      { id: "oai2", kind: "openai", base_url: `${url}/v1`, api_key_env: "IBEX_TEST_MOCK_KEY" },
      {
        id: "azure",
        kind: "azure-openai",
        base_url: url,
        api_key_env: "IBEX_TEST_MOCK_KEY",
        api_version: "2024-10-21"
      },
      { id: "claude", kind: "anthropic", base_url: url, api_key_env: "IBEX_TEST_MOCK_KEY" },
      {
        id: "fast",
        kind: "openai",
        base_url: `${url}/v1`,
        api_key_env: "IBEX_TEST_MOCK_KEY",
        timeouts: { first_byte_ms: 400, idle_ms: 400, total_ms: 5_000 }
      },
      {
        id: "short",
        kind: "openai",
        base_url: `${url}/v1`,
        api_key_env: "IBEX_TEST_MOCK_KEY",
        timeouts: { first_byte_ms: 5_000, idle_ms: 5_000, total_ms: 300 }
      }
    ],
    models: [
      { name: "gpt-4o-mini", targets: [{ provider: "oai", model: "gpt-4o-mini" }] },
      { name: "azure-mini", targets: [{ provider: "azure", model: "my-deployment" }] },
      { name: "claude", targets: [{ provider: "claude", model: "claude-sonnet-4-5" }] },
      {
        name: "flaky",
        targets: [
          { provider: "oai", model: "mock-500" },
          { provider: "oai2", model: "gpt-4o-mini" }
        ]
      },
      { name: "limited", targets: [{ provider: "oai", model: "mock-429" }] },
      { name: "broken", targets: [{ provider: "oai", model: "mock-502" }] },
      { name: "hang", targets: [{ provider: "fast", model: "mock-hang" }] },
      { name: "stall", targets: [{ provider: "fast", model: "mock-stall" }] },
      { name: "drop", targets: [{ provider: "oai", model: "mock-drop" }] },
      { name: "too-long", targets: [{ provider: "oai", model: "mock-400" }] },
      { name: "slow", targets: [{ provider: "oai", model: "mock-slow-100" }] },
      { name: "stream-error", targets: [{ provider: "oai", model: "mock-stream-error" }] },
      { name: "claude-stream-error", targets: [{ provider: "claude", model: "mock-stream-error" }] },
      { name: "truncated", targets: [{ provider: "oai", model: "mock-truncate-2" }] },
      { name: "whole", targets: [{ provider: "oai", model: "mock-whole" }] },
      { name: "claude-whole", targets: [{ provider: "claude", model: "mock-whole" }] },
      { name: "claude-truncated", targets: [{ provider: "claude", model: "mock-truncate-3" }] },
      {
        name: "error-first",
        targets: [
          { provider: "oai", model: "mock-stream-error-0" },
          { provider: "oai2", model: "gpt-4o-mini" }
        ]
      },
      {
        name: "claude-error-first",
        targets: [
          { provider: "claude", model: "mock-stream-error-0" },
          { provider: "oai2", model: "gpt-4o-mini" }
        ]
      },
      {
        name: "empty-stream",
        targets: [
          { provider: "oai", model: "mock-truncate-0" },
          { provider: "oai2", model: "gpt-4o-mini" }
        ]
      },
      // Every step inside first_byte_ms and idle_ms, the whole beyond total_ms.
      { name: "overlong", targets: [{ provider: "short", model: "mock-slow-150" }] }
    ],
    retry: { max_attempts: 2, base_delay_ms: 5, max_delay_ms: 20, retry_after_cap_ms: 2_000 },
    cooldown: { failures: 1000, period_ms: 1 },
    ...extra
  })

  beforeAll(async () => {
    mock = await startMockUpstream({ apiKey: MOCK_KEY })
    state = await Effect.runPromise(makeRoutingState({ source: "test", env: (n) => process.env[n] }))
    const offered = await Effect.runPromise(state.offer(routes(mock.url)))
    expect(offered._tag).toBe("Right")
    const routing = Layer.succeed(Routing, {
      table: state.table,
      current: state.current,
      status: state.status,
      reload: state.status
    })
    stack = await startProxyStack({ routing, tracing })
    org = await stack.runtime.runPromise(setupOrg({ rateLimitPerMinute: 1_000_000 }))
    client = new OpenAI({
      baseURL: `${stack.url}/v1`,
      apiKey: Redacted.value(org.token),
      defaultHeaders: { "X-IBEX-Agent-ID": org.agentId },
      maxRetries: 0
    })
  }, 60_000)

  afterAll(async () => {
    await stack?.close()
    await mock?.close()
  })

  beforeEach(() => {
    mock.reset()
  })

  const raw = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    fetch(`${stack.url}${path}`, {
      method: init.method ?? "POST",
      headers: {
        authorization: `Bearer ${Redacted.value(org.token)}`,
        "x-ibex-agent-id": org.agentId,
        "content-type": "application/json",
        ...init.headers
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
    })

  const hello = [{ role: "user" as const, content: "hello there" }]

  describe("non-streaming, through the official client", () => {
    it("OpenAI-compatible: the provider's completion and usage come back", async () => {
      const { data, response } = await client.chat.completions
        .create({ model: "gpt-4o-mini", messages: hello })
        .withResponse()
      expect(data.choices[0]?.message.content).toContain("hello there")
      expect(data.usage?.total_tokens).toBeGreaterThan(0)
      expect(response.headers.get("x-ibex-provider")).toBe("oai")
      expect(response.headers.get("x-ibex-model")).toBe("gpt-4o-mini")
      expect(response.headers.get("x-ibex-provider-request-id")).toMatch(/^req_mock_/)
      const seen = mock.requests.at(-1)
      expect(seen?.dialect).toBe("openai")
      expect(seen?.headers.authorization).toBe(`Bearer ${MOCK_KEY}`)
    })

    // Spans exist only when traced: the untraced run registers no such row (a skipped row fails CI).
    if (tracing)
      it("the upstream call is traced: Proxy.forward and ProviderGateway.call with the GenAI attributes, under the request", async () => {
        const { response } = await client.chat.completions
          .create({ model: "gpt-4o-mini", messages: hello })
          .withResponse()
        const trace = response.headers.get("x-trace-id")
        const ofTrace = () => stack.spans.getFinishedSpans().filter((s) => s.spanContext().traceId === trace)
        const request = await eventually(() => ofTrace().find((s) => s.name === "proxy.request"))
        const forward = ofTrace().find((s) => s.name === "Proxy.forward")
        const call = ofTrace().find((s) => s.name === "ProviderGateway.call")
        expect(forward?.parentSpanContext?.spanId).toBe(request.spanContext().spanId)
        expect(call?.parentSpanContext?.spanId).toBe(forward?.spanContext().spanId)
        expect(forward?.attributes).toMatchObject({ "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini" })
        expect(forward?.attributes["gen_ai.usage.input_tokens"]).toBeGreaterThan(0)
        expect(forward?.attributes["gen_ai.usage.output_tokens"]).toBeGreaterThan(0)
        expect(call?.attributes).toMatchObject({ "gen_ai.system": "openai", "ibex.provider.id": "oai" })
      })

    it("Azure: deployment URL, api-version and api-key", async () => {
      const data = await client.chat.completions.create({ model: "azure-mini", messages: hello })
      expect(data.choices[0]?.message.content).toContain("hello there")
      const seen = mock.requests.at(-1)
      expect(seen?.dialect).toBe("azure-openai")
      expect(seen?.path).toBe("/openai/deployments/my-deployment/chat/completions")
      expect(seen?.query["api-version"]).toBe("2024-10-21")
      expect(seen?.headers["api-key"]).toBe(MOCK_KEY)
      expect(seen?.headers.authorization).toBeUndefined()
    })

    it("Anthropic: translated both ways", async () => {
      const data = await client.chat.completions.create({
        model: "claude",
        messages: [{ role: "system", content: "be brief" }, ...hello],
        max_tokens: 50
      })
      expect(data.object).toBe("chat.completion")
      expect(data.choices[0]?.message.content).toContain("hello there")
      expect(data.choices[0]?.finish_reason).toBe("stop")
      expect(data.usage?.prompt_tokens).toBeGreaterThan(0)
      const seen = mock.requests.at(-1)
      expect(seen?.dialect).toBe("anthropic")
      expect(seen?.headers["x-api-key"]).toBe(MOCK_KEY)
      expect((seen?.body as { system?: unknown }).system).toBeDefined()
      expect((seen?.body as { max_tokens?: unknown }).max_tokens).toBe(50)
    })

    it("tool calls come back as OpenAI tool calls, from every dialect", async () => {
      for (const model of ["gpt-4o-mini", "claude"]) {
        const data = await client.chat.completions.create({
          model,
          messages: [{ role: "user", content: "weather in Paris?" }],
          tools: [
            {
              type: "function",
              function: {
                name: "get_weather",
                parameters: { type: "object", properties: { city: { type: "string" } } }
              }
            }
          ]
        })
        const call = data.choices[0]?.message.tool_calls?.[0]
        expect(call?.type, model).toBe("function")
        expect(call?.type === "function" ? call.function.name : undefined, model).toBe("get_weather")
        expect(data.choices[0]?.finish_reason, model).toBe("tool_calls")
      }
    })
  })

  describe("streaming, through the official client", () => {
    const collect = async (model: string, includeUsage: boolean, tools = false) => {
      const stream = await client.chat.completions.create({
        model,
        messages: tools ? [{ role: "user", content: "weather in Paris?" }] : hello,
        stream: true,
        ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
        ...(tools
          ? {
              tools: [
                {
                  type: "function" as const,
                  function: { name: "get_weather", parameters: { type: "object", properties: {} } }
                }
              ]
            }
          : {})
      })
      let text = ""
      let usage: unknown
      let finish: string | null = null
      const args: Array<string> = []
      let names = ""
      let chunks = 0
      for await (const chunk of stream) {
        chunks++
        if (chunk.usage) usage = chunk.usage
        const choice = chunk.choices[0]
        if (choice === undefined) continue
        text += choice.delta.content ?? ""
        for (const call of choice.delta.tool_calls ?? []) {
          args[call.index] = (args[call.index] ?? "") + (call.function?.arguments ?? "")
          names += call.function?.name ?? ""
        }
        if (choice.finish_reason) finish = choice.finish_reason
      }
      return { text, usage, finish, args, names, chunks }
    }

    for (const model of ["gpt-4o-mini", "azure-mini", "claude"]) {
      it(`${model}: text and usage reassemble exactly as the whole answer`, async () => {
        const whole = await client.chat.completions.create({ model, messages: hello })
        const streamed = await collect(model, true)
        expect(streamed.chunks).toBeGreaterThan(2)
        expect(streamed.text).toBe(whole.choices[0]?.message.content)
        expect(streamed.finish).toBe("stop")
        expect(streamed.usage).toMatchObject({
          prompt_tokens: whole.usage?.prompt_tokens,
          completion_tokens: whole.usage?.completion_tokens
        })
      })
    }

    it("a stream's headers leave in one write with the chunks that came with the provider's headers", async () => {
      // Every socket write of this process, as text: the proxy's answer is the one carrying X-IBEX-Provider.
      const writes: Array<string> = []
      const proto = Socket.prototype as unknown as {
        _writeGeneric: (writev: boolean, data: unknown, encoding: string, cb: unknown) => unknown
      }
      const original = proto._writeGeneric
      proto._writeGeneric = function (this: Socket, writev, data, encoding, cb) {
        const parts = writev ? (data as Array<{ chunk: unknown }>).map((d) => d.chunk) : [data]
        writes.push(parts.map((c) => (typeof c === "string" ? c : Buffer.from(c as Uint8Array).toString())).join(""))
        return original.call(this, writev, data, encoding, cb)
      }
      try {
        const res = await raw("/v1/chat/completions", { body: { model: "gpt-4o-mini", messages: hello, stream: true } })
        expect(await res.text()).toContain("data: [DONE]")
      } finally {
        proto._writeGeneric = original
      }
      // The mock sends its headers and every frame in one write; the proxy's headers went out
      // alone (a syscall and a wake-up of the client) before it corked them until the check phase.
      const head = writes.find((w) => w.startsWith("HTTP/1.1 200") && w.includes("X-IBEX-Provider"))
      expect(head).toBeDefined()
      expect(head).toContain("data: {")
    })

    it("the usage chunk reaches only clients that asked for it (the proxy always asks upstream)", async () => {
      const streamed = await collect("gpt-4o-mini", false)
      expect(streamed.usage).toBeUndefined()
      const seen = mock.requests.at(-1)?.body as { stream_options?: { include_usage?: boolean } }
      expect(seen.stream_options?.include_usage).toBe(true)
    })

    for (const model of ["gpt-4o-mini", "claude"]) {
      it(`${model}: streamed tool calls reassemble into the same call`, async () => {
        const streamed = await collect(model, false, true)
        expect(streamed.names).toBe("get_weather")
        expect(streamed.finish).toBe("tool_calls")
        expect(() => JSON.parse(streamed.args[0] ?? "")).not.toThrow()
      })
    }
  })

  describe("misbehaving providers", () => {
    const errorOf = async (model: string, stream = false) => {
      const res = await raw("/v1/chat/completions", { body: { model, messages: hello, stream } })
      return { status: res.status, headers: res.headers, text: await res.text() }
    }

    it("a 500 is retried, then the next target answers (retry then fallback)", async () => {
      const res = await raw("/v1/chat/completions", { body: { model: "flaky", messages: hello } })
      expect(res.status).toBe(200)
      expect(res.headers.get("x-ibex-provider")).toBe("oai2")
      const models = mock.requests.map((r) => (r.body as { model?: string }).model)
      expect(models).toEqual(["mock-500", "mock-500", "gpt-4o-mini"])
    })

    it("429 from the provider: retried honouring Retry-After, then 429 UPSTREAM_RATE_LIMITED with Retry-After", async () => {
      const started = Date.now()
      const e = await errorOf("limited")
      expect(e.status).toBe(429)
      expect(JSON.parse(e.text).error.code).toBe("UPSTREAM_RATE_LIMITED")
      expect(e.headers.get("retry-after")).toBe("1")
      expect(mock.requests).toHaveLength(2)
      expect(Date.now() - started).toBeGreaterThanOrEqual(900)
      // The provider's status is on the error metric: a 429 is told from a 5xx.
      const metrics = await (await fetch(`${stack.url}/metrics`)).text()
      expect(metrics).toMatch(
        /ibex_proxy_upstream_errors_total\{provider="oai",model="mock-429",error="http_429"\} [1-9]/
      )
    })

    it("5xx on every attempt: 502 UPSTREAM_ERROR, naming the target that gave it", async () => {
      const e = await errorOf("broken")
      expect([e.status, JSON.parse(e.text).error.code]).toEqual([502, "UPSTREAM_ERROR"])
      expect([e.headers.get("x-ibex-provider"), e.headers.get("x-ibex-model")]).toEqual(["oai", "mock-502"])
    })

    it("a provider that never answers: 504 UPSTREAM_TIMEOUT after first_byte_ms", async () => {
      const started = Date.now()
      const e = await errorOf("hang")
      expect([e.status, JSON.parse(e.text).error.code]).toEqual([504, "UPSTREAM_TIMEOUT"])
      expect(Date.now() - started).toBeLessThan(3_000)
    })

    it("an answer that takes longer than total_ms: 504 UPSTREAM_TIMEOUT, though every step was in time", async () => {
      const started = Date.now()
      const e = await errorOf("overlong")
      expect([e.status, JSON.parse(e.text).error.code]).toEqual([504, "UPSTREAM_TIMEOUT"])
      expect(Date.now() - started).toBeLessThan(3_000)
      // The upstream request itself was aborted, not left running against the provider.
      const aborted = await mock.waitForAbort((r) => (r.body as { model?: string }).model === "mock-slow-150", 3_000)
      expect(aborted.abortedAt).toBeDefined()
    })

    it("a stream that outlives total_ms is cut with an error event, its chunks so far delivered", async () => {
      const res = await raw("/v1/chat/completions", { body: { model: "overlong", messages: hello, stream: true } })
      expect(res.status).toBe(200)
      const text = await res.text()
      expect(text).toContain("data: {")
      expect(text).toContain('"code":"UPSTREAM_TIMEOUT"')
      expect(text).not.toContain("[DONE]")
    })

    it("a stream that stalls midway is cut after idle_ms with an error event", async () => {
      const res = await raw("/v1/chat/completions", { body: { model: "stall", messages: hello, stream: true } })
      expect(res.status).toBe(200)
      const text = await res.text()
      expect(text).toContain("data: {")
      expect(text).toContain('"code":"UPSTREAM_TIMEOUT"')
      expect(text).not.toContain("[DONE]")
    })

    it("the official client raises the stream's error event", async () => {
      const stream = await client.chat.completions.create({ model: "stall", messages: hello, stream: true })
      await expect(async () => {
        for await (const _ of stream) {
          // drain
        }
      }).rejects.toThrow()
    })

    // An error event in the same read as the body's end once killed the process: undici's body,
    // destroyed before its 'end' event, emitted an error with no listener left.
    for (const model of ["stream-error", "claude-stream-error"])
      it(`${model}: the chunks before a provider's in-stream error are delivered, then the error event; the proxy lives on`, async () => {
        for (let i = 0; i < 3; i++) {
          const res = await raw("/v1/chat/completions", { body: { model, messages: hello, stream: true } })
          expect(res.status).toBe(200)
          const events = (await res.text()).split("\n\n").filter((e) => e.startsWith("data: "))
          const error = events.at(-1) ?? ""
          expect(JSON.parse(error.slice(6)).error.code).toBe("UPSTREAM_ERROR")
          const content = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)))
          expect(content.length).toBeGreaterThanOrEqual(1)
          for (const c of content) expect(c.object).toBe("chat.completion.chunk")
          expect(events).not.toContain("data: [DONE]")
        }
        await new Promise((r) => setTimeout(r, 50))
        const after = await raw("/v1/chat/completions", { body: { model: "gpt-4o-mini", messages: hello } })
        expect(after.status).toBe(200)
      })

    it("a stream asked for and answered whole: replayed as chunks (OpenAI wire); a broken answer (Anthropic), and the proxy lives on", async () => {
      for (let i = 0; i < 3; i++) {
        const replayed = await raw("/v1/chat/completions", { body: { model: "whole", messages: hello, stream: true } })
        expect(replayed.status).toBe(200)
        expect(await replayed.text()).toContain("data: [DONE]")
        const refused = await raw("/v1/chat/completions", {
          body: { model: "claude-whole", messages: hello, stream: true }
        })
        expect([refused.status, ((await refused.json()) as { error: { code: string } }).error.code]).toEqual([
          502,
          "UPSTREAM_ERROR"
        ])
      }
      await new Promise((r) => setTimeout(r, 50))
      expect((await raw("/v1/chat/completions", { body: { model: "gpt-4o-mini", messages: hello } })).status).toBe(200)
    })

    for (const model of ["truncated", "claude-truncated"])
      it(`${model}: a stream whose body ends before its own end is an error event, never a [DONE] the proxy made up`, async () => {
        const res = await raw("/v1/chat/completions", { body: { model, messages: hello, stream: true } })
        expect(res.status).toBe(200)
        const text = await res.text()
        expect(text).toContain("chat.completion.chunk")
        expect(text).toContain('"code":"UPSTREAM_ERROR"')
        expect(text).not.toContain("[DONE]")
      })

    for (const model of ["error-first", "claude-error-first", "empty-stream"])
      it(`${model}: a stream that fails before its first chunk falls back to the next target (nothing reached the client)`, async () => {
        const { data: stream, response } = await client.chat.completions
          .create({ model, messages: hello, stream: true })
          .withResponse()
        let text = ""
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ""
        expect(text.length).toBeGreaterThan(0)
        expect(response.headers.get("x-ibex-provider")).toBe("oai2")
        expect(mock.requests.map((r) => (r.body as { model?: string }).model).at(-1)).toBe("gpt-4o-mini")
      })

    it("a dropped connection: 502 UPSTREAM_ERROR", async () => {
      const e = await errorOf("drop")
      expect([e.status, JSON.parse(e.text).error.code]).toEqual([502, "UPSTREAM_ERROR"])
    })

    it("a provider's own 400 reaches the client with its message", async () => {
      const e = await errorOf("too-long")
      expect(e.status).toBe(400)
      const body = JSON.parse(e.text)
      expect(body.error.code).toBe("UPSTREAM_REJECTED")
      expect(body.error.message).toContain("maximum context length")
      // The provider's own code too: clients branch on it to trim the conversation.
      expect(body.error.provider_code).toBe("context_length_exceeded")
      expect(mock.requests).toHaveLength(1)
      expect([e.headers.get("x-ibex-provider"), e.headers.get("x-ibex-model")]).toEqual(["oai", "mock-400"])
    })

    it("a client abort reaches the provider within 1 s", async () => {
      const controller = new AbortController()
      const res = await raw("/v1/chat/completions", {
        body: { model: "slow", messages: hello, stream: true }
      }).catch(() => undefined)
      void res
      const pending = fetch(`${stack.url}/v1/chat/completions`, {
        method: "POST",
        signal: controller.signal,
        headers: {
          authorization: `Bearer ${Redacted.value(org.token)}`,
          "x-ibex-agent-id": org.agentId,
          "content-type": "application/json"
        },
        body: JSON.stringify({ model: "slow", messages: [{ role: "user", content: "abort me" }], stream: true })
      })
      const response = await pending
      const reader = response.body?.getReader()
      await reader?.read()
      const abortedAt = Date.now()
      controller.abort()
      const seen = await mock.waitForAbort((r) => JSON.stringify(r.body).includes("abort me"), 3_000)
      expect((seen.abortedAt ?? Number.POSITIVE_INFINITY) - abortedAt).toBeLessThan(1_000)
    })
  })

  describe("models, headers and secrets", () => {
    it("models.list() lists the routed models; an unknown model is 404 MODEL_NOT_FOUND", async () => {
      const ids: Array<string> = []
      for await (const m of client.models.list()) ids.push(m.id)
      expect(ids).toContain("gpt-4o-mini")
      expect(ids).toContain("claude")
      expect((await client.models.retrieve("claude")).id).toBe("claude")
      await expect(client.models.retrieve("nope")).rejects.toMatchObject({ status: 404, code: "MODEL_NOT_FOUND" })
      const res = await raw("/v1/chat/completions", { body: { model: "nope", messages: hello } })
      expect(res.status).toBe(404)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("MODEL_NOT_FOUND")
    })

    it("an org limited to some models gets 403 MODEL_NOT_ALLOWED for the others, and lists only its own", async () => {
      await Effect.runPromise(state.offer(routes(mock.url, { orgs: [{ org_id: org.orgId, models: ["claude"] }] })))
      try {
        const res = await raw("/v1/chat/completions", { body: { model: "gpt-4o-mini", messages: hello } })
        expect(res.status).toBe(403)
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("MODEL_NOT_ALLOWED")
        const ids: Array<string> = []
        for await (const m of client.models.list()) ids.push(m.id)
        expect(ids).toEqual(["claude"])
      } finally {
        await Effect.runPromise(state.offer(routes(mock.url)))
      }
    })

    it("/admin/routing shows an org its own slice: its models, their providers, its allowlist; never another tenant's", async () => {
      const other = "0190a0b0-0000-7000-8000-00000000beef"
      await Effect.runPromise(
        state.offer(
          routes(mock.url, {
            orgs: [
              { org_id: org.orgId, models: ["claude"] },
              { org_id: other, models: ["gpt-4o-mini", "azure-mini"] }
            ]
          })
        )
      )
      try {
        const res = await raw("/admin/routing", { method: "GET" })
        expect(res.status).toBe(200)
        const text = await res.text()
        const report = JSON.parse(text) as {
          models: Array<{ name: string }>
          providers: Array<{ id: string }>
          orgs: Array<{ org_id: string; models: Array<string> }>
        }
        expect(report.models.map((m) => m.name)).toEqual(["claude"])
        expect(report.providers.map((p) => p.id)).toEqual(["claude"])
        expect(report.orgs).toEqual([{ org_id: org.orgId, models: ["claude"] }])
        expect(text).not.toContain(other)
        expect(text).not.toContain("azure")
      } finally {
        await Effect.runPromise(state.offer(routes(mock.url)))
      }
      // A refused load's errors about entries show where they are, not their messages (which can
      // name another tenant's model or key variable); the file's own errors keep theirs.
      const refused = await Effect.runPromise(
        state.offer({
          ...routes(mock.url),
          providers: [
            { id: "other-tenants", kind: "openai", base_url: "http://x", api_key_env: "OTHER_TENANT_KEY_VAR" }
          ],
          retry: { max_attempts: "two" }
        })
      )
      expect(refused._tag).toBe("Left")
      const withError = await (await raw("/admin/routing", { method: "GET" })).text()
      expect(withError).not.toContain("OTHER_TENANT_KEY_VAR")
      const lastError = (
        JSON.parse(withError) as { last_error: { errors: Array<{ field: string; message?: string }> } }
      ).last_error
      expect(lastError.errors.find((e) => e.field === "providers.0.api_key_env")).toEqual({
        field: "providers.0.api_key_env"
      })
      expect(lastError.errors.find((e) => e.field === "retry.max_attempts")?.message).toBeDefined()
      // Unrestricted: every model and provider, and no org entry (it has none).
      const all = (await (await raw("/admin/routing", { method: "GET" })).json()) as {
        models: Array<unknown>
        orgs: Array<unknown>
      }
      expect(all.models.length).toBeGreaterThan(5)
      expect(all.orgs).toEqual([])
    })

    it("only allowlisted headers reach the provider; correlation ids are echoed", async () => {
      const res = await raw("/v1/chat/completions", {
        body: { model: "gpt-4o-mini", messages: hello },
        headers: {
          cookie: "session=abc",
          "x-api-key": "client-key",
          "api-key": "client-key",
          "x-ibex-org-id": "spoofed",
          "x-correlation-id": "corr-123",
          traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
          "x-custom": "nope"
        }
      })
      expect(res.status).toBe(200)
      expect(res.headers.get("x-correlation-id")).toBe("corr-123")
      const seen = mock.requests.at(-1)?.headers ?? {}
      expect(seen.authorization).toBe(`Bearer ${MOCK_KEY}`)
      for (const h of ["cookie", "x-api-key", "api-key", "x-ibex-org-id", "x-ibex-agent-id", "x-custom"])
        expect(seen[h], h).toBeUndefined()
      expect(seen["x-correlation-id"]).toBe("corr-123")
      expect(seen["x-request-id"]).toBe(res.headers.get("x-request-id"))
      expect(seen.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-/)
    })

    it("the provider key never appears in a response or a log line", async () => {
      const outputs: Array<string> = []
      for (const model of ["gpt-4o-mini", "too-long", "broken", "claude"]) {
        const res = await raw("/v1/chat/completions", { body: { model, messages: hello } })
        outputs.push(JSON.stringify([...res.headers.entries()]), await res.text())
      }
      const admin = await raw("/admin/routing", { method: "GET" })
      expect(admin.status).toBe(200)
      outputs.push(await admin.text())
      for (const text of [...outputs, ...stack.logs]) expect(text).not.toContain(MOCK_KEY)
    })
  })

  describe("hot reload", () => {
    it("requests in flight finish on their table while the config changes under them", async () => {
      const inflight = Array.from({ length: 20 }, (_, i) =>
        raw("/v1/chat/completions", { body: { model: i % 2 ? "gpt-4o-mini" : "claude", messages: hello } })
      )
      for (let i = 0; i < 10; i++) {
        await Effect.runPromise(
          state.offer(i % 2 === 0 ? { ...routes(mock.url), retry: { max_attempts: 3 } } : routes(mock.url))
        )
      }
      const statuses = await Promise.all(inflight.map(async (p) => (await p).status))
      expect(statuses.every((s) => s === 200)).toBe(true)
    })

    it("a bad config keeps the last good table", async () => {
      const before = await Effect.runPromise(state.table)
      const bad = await Effect.runPromise(state.offer({ providers: [], models: [{ name: "x", targets: [] }] }))
      expect(bad._tag).toBe("Left")
      expect(await Effect.runPromise(state.table)).toBe(before)
      const res = await raw("/v1/chat/completions", { body: { model: "gpt-4o-mini", messages: hello } })
      expect(res.status).toBe(200)
    })
  })
}
