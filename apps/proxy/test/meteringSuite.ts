import { decodeRoutingConfig, RoutingStatic } from "@ibex/domain"
import { setupOrg, type TestOrgContext } from "@ibex/testkit"
import { type MockUpstream, startMockUpstream } from "@ibex/testkit/upstream"
import { Effect, Either, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startProxyStack } from "./stack.js"

/**
 * Usage metering end to end, one test per failure class the issue names: every forwarded
 * request gives exactly one usage record, with the provider's usage (or, when a stream is cut
 * before it, a tokenizer's count marked estimated), priced at the target that served it. Run
 * traced (every request in a fiber) and untraced (warm requests without one, chat/warmChat.ts).
 */

/** Registers every metering row, on a proxy with tracing on or off. */
export const meteringSuite = (tracing: boolean) => {
  let mock: MockUpstream
  let stack: Awaited<ReturnType<typeof startProxyStack>>
  let org: TestOrgContext

  // Prices in USD per million tokens, i.e. micro-USD per token.
  const pricing = { input_per_million: 3, output_per_million: 15, cached_input_per_million: 1 }

  beforeAll(async () => {
    mock = await startMockUpstream()
    const table = Either.getOrThrow(
      decodeRoutingConfig(
        {
          providers: [
            { id: "a", kind: "openai", base_url: `${mock.url}/v1` },
            { id: "b", kind: "openai", base_url: `${mock.url}/v1` },
            { id: "c", kind: "anthropic", base_url: mock.url, api_key_env: "IBEX_TEST_ANTHROPIC" }
          ],
          models: [
            { name: "m", targets: [{ provider: "a", model: "up-m" }], pricing },
            { name: "claude", targets: [{ provider: "c", model: "claude-x" }], pricing },
            {
              name: "flaky",
              targets: [
                { provider: "a", model: "mock-503" },
                { provider: "b", model: "up-b" }
              ],
              pricing
            },
            { name: "slow", targets: [{ provider: "a", model: "mock-slow-100" }], pricing },
            { name: "late", targets: [{ provider: "a", model: "mock-delay-300" }], pricing }
          ],
          retry: { max_attempts: 2, base_delay_ms: 5, max_delay_ms: 10 }
        },
        (n) => (n === "IBEX_TEST_ANTHROPIC" ? "k" : undefined)
      )
    )
    stack = await startProxyStack({ routing: RoutingStatic(table), tracing })
    org = await stack.runtime.runPromise(setupOrg({ rateLimitPerMinute: 1_000_000 }))
  }, 60_000)

  afterAll(async () => {
    await stack?.close()
    await mock?.close()
  })

  const records = async () => stack.usage

  const chat = (body: Record<string, unknown>, signal?: AbortSignal) =>
    fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${Redacted.value(org.token)}`,
        "x-ibex-agent-id": org.agentId,
        "content-type": "application/json"
      },
      body: JSON.stringify({ messages: [{ role: "user", content: "count these words please" }], ...body }),
      ...(signal === undefined ? {} : { signal })
    })

  /** Waits for the record of the request whose response carried `usageOf` (records are written as the request ends). */
  const recordAfter = async (count: number) => {
    for (let i = 0; i < 100; i++) {
      const all = await records()
      if (all.length >= count) return all
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new Error(`expected ${count} usage records, have ${(await records()).length}`)
  }

  describe("usage records", () => {
    it("a whole answer: the provider's usage, priced, one record", async () => {
      const before = (await records()).length
      const res = await chat({ model: "m" })
      const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }
      const all = await recordAfter(before + 1)
      const r = all[before]
      expect(r).toMatchObject({
        orgId: org.orgId,
        agentId: org.agentId,
        model: "m",
        provider: "a",
        upstreamModel: "up-m",
        promptTokens: body.usage.prompt_tokens,
        completionTokens: body.usage.completion_tokens,
        estimated: false,
        status: 200,
        stream: false
      })
      expect(r?.costMicroUsd).toBe(body.usage.prompt_tokens * 3 + body.usage.completion_tokens * 15)
      expect(all).toHaveLength(before + 1)
    })

    it("a stream: usage from the provider's usage chunk, even when the client did not ask for it", async () => {
      const before = (await records()).length
      const res = await chat({ model: "m", stream: true })
      const text = await res.text()
      expect(text).not.toContain('"usage":{')
      const r = (await recordAfter(before + 1))[before]
      expect(r?.estimated).toBe(false)
      expect(r?.completionTokens).toBeGreaterThan(0)
      expect(r?.stream).toBe(true)
      expect(r?.timeToFirstTokenMs).not.toBeNull()
      // The mock counts a prompt as ceil(chars / 4): "count these words please" is 24 characters.
      expect(r?.promptTokens).toBe(6)
    })

    it("a stream's time to first token counts from the request's arrival, and its record is dated then", async () => {
      const before = (await records()).length
      const sent = Date.now()
      const res = await chat({ model: "late", stream: true })
      await res.text()
      const ended = Date.now()
      const r = (await recordAfter(before + 1))[before]
      // The provider sent its headers and first chunk 300 ms after the request.
      expect(r?.timeToFirstTokenMs).toBeGreaterThanOrEqual(290)
      expect(r?.latencyMs).toBeGreaterThanOrEqual(r?.timeToFirstTokenMs ?? 0)
      const created = r?.createdAt.getTime() ?? 0
      expect(created).toBeGreaterThanOrEqual(sent - 5)
      expect(created).toBeLessThanOrEqual(ended - 290)
      // The provider's own time to first chunk (its attempt's start to the first chunk) is the 300 ms too.
      const text = await (await fetch(`${stack.url}/metrics`)).text()
      const sum = Number(
        /ibex_proxy_upstream_time_to_first_chunk_seconds_sum\{provider="a",model="mock-delay-300"\} (\S+)/.exec(
          text
        )?.[1]
      )
      expect(sum).toBeGreaterThanOrEqual(0.29)
      expect(sum * 1000).toBeLessThanOrEqual((r?.latencyMs ?? 0) + 1)
    })

    it("an Anthropic stream: usage from message_start and message_delta", async () => {
      const before = (await records()).length
      const res = await chat({ model: "claude", stream: true, max_tokens: 100 })
      await res.text()
      const r = (await recordAfter(before + 1))[before]
      expect(r).toMatchObject({ provider: "c", estimated: false, promptTokens: 6 })
      expect(r?.completionTokens).toBeGreaterThan(0)
    })

    it("an aborted stream: counted from what was delivered, marked estimated, status 499", async () => {
      const before = (await records()).length
      const controller = new AbortController()
      const res = await chat(
        {
          model: "slow",
          stream: true,
          messages: [{ role: "user", content: "one two three four five six seven eight nine ten eleven twelve" }]
        },
        controller.signal
      )
      const reader = (res.body as ReadableStream<Uint8Array>).getReader()
      let seen = ""
      while (!seen.includes("Mock reply")) seen += new TextDecoder().decode((await reader.read()).value)
      controller.abort()
      const r = (await recordAfter(before + 1))[before]
      expect(r?.status).toBe(499)
      expect(r?.estimated).toBe(true)
      expect(r?.promptTokens).toBeGreaterThan(0)
      expect(r?.completionTokens).toBeGreaterThan(0)
      expect(r?.costMicroUsd).toBe((r?.promptTokens ?? 0) * 3 + (r?.completionTokens ?? 0) * 15)
    })

    it("a retried request that fell back is counted once, against the target that served it", async () => {
      const before = (await records()).length
      mock.reset()
      const res = await chat({ model: "flaky" })
      expect(res.status).toBe(200)
      expect(mock.requests.map((x) => (x.body as { model: string }).model)).toEqual(["mock-503", "mock-503", "up-b"])
      const all = await recordAfter(before + 1)
      await new Promise((r) => setTimeout(r, 100))
      expect(await records()).toHaveLength(before + 1)
      expect(all[before]).toMatchObject({ provider: "b", upstreamModel: "up-b", status: 200 })
    })

    it("each record has its own id, even when a client repeats its X-Request-ID", async () => {
      const before = (await records()).length
      for (let i = 0; i < 2; i++)
        await (
          await fetch(`${stack.url}/v1/chat/completions`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${Redacted.value(org.token)}`,
              "x-ibex-agent-id": org.agentId,
              "content-type": "application/json",
              "x-request-id": "0190a0b0-0000-7000-8000-00000000beef"
            },
            body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] })
          })
        ).text()
      const all = await recordAfter(before + 2)
      expect(new Set(all.slice(before).map((r) => r.requestId)).size).toBe(2)
    })
  })

  describe("metrics", () => {
    it("tokens and cost by provider and model; no org label unless enabled", async () => {
      const text = await (await fetch(`${stack.url}/metrics`)).text()
      expect(text).toMatch(/ibex_proxy_tokens_total\{provider="a",model="up-m",kind="prompt"\} [1-9]/)
      expect(text).toMatch(/ibex_proxy_cost_micro_usd_total\{provider="a",model="up-m"\} [1-9]/)
      expect(text).not.toContain("ibex_proxy_org_tokens_total")
      expect(text).not.toContain(org.orgId)
    })
  })

  describe("records stay exact under load", () => {
    it("50 concurrent requests: 50 records whose sums equal what the provider reported", async () => {
      const before = (await records()).length
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          chat({ model: "m", messages: [{ role: "user", content: `request number ${i} `.repeat(i + 1) }] }).then(
            (r) => r.json() as Promise<{ usage: { prompt_tokens: number; completion_tokens: number } }>
          )
        )
      )
      const all = (await recordAfter(before + 50)).slice(before)
      const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)
      expect(sum(all.map((r) => r.promptTokens))).toBe(sum(answers.map((a) => a.usage.prompt_tokens)))
      expect(sum(all.map((r) => r.completionTokens))).toBe(sum(answers.map((a) => a.usage.completion_tokens)))
      await Effect.runPromise(Effect.void)
    })
  })
}
