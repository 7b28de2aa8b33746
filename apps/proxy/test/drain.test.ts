import { decodeRoutingConfig, RoutingStatic } from "@ibex/domain"
import { setupOrg } from "@ibex/testkit"
import { type MockUpstream, startMockUpstream } from "@ibex/testkit/upstream"
import { Either, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startProxyStack } from "./stack.js"

/**
 * Graceful drain: closing the proxy (what SIGTERM does through the layer's scope) stops
 * accepting at once and lets streams in flight finish; a deadline bounds how long it waits.
 */

let mock: MockUpstream
beforeAll(async () => {
  mock = await startMockUpstream()
})
afterAll(async () => {
  await mock?.close()
})

const routing = () =>
  RoutingStatic(
    Either.getOrThrow(
      decodeRoutingConfig(
        {
          providers: [{ id: "mock", kind: "openai", base_url: `${mock.url}/v1` }],
          models: [
            { name: "slow", targets: [{ provider: "mock", model: "mock-slow-60" }] },
            { name: "endless", targets: [{ provider: "mock", model: "mock-stall" }] }
          ]
        },
        () => undefined
      )
    )
  )

const openStream = async (url: string, token: string, agentId: string, model: string) => {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "x-ibex-agent-id": agentId, "content-type": "application/json" },
    body: JSON.stringify({
      model,
      stream: true,
      messages: [{ role: "user", content: "one two three four five six seven eight nine ten eleven twelve" }]
    })
  })
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const first = await reader.read()
  const decoder = new TextDecoder()
  let text = decoder.decode(first.value, { stream: true })
  const rest = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return text
        text += decoder.decode(value, { stream: true })
      }
    } catch {
      return `${text}<cut>`
    }
  })()
  return { status: res.status, rest }
}

/** The token's acceptance cached by a probe, trusted once auth's heartbeats arrive: its requests are warm. */
const warmUp = async (url: string, token: string, agentId: string) => {
  const probe = await fetch(`${url}/v1/internal/auth-probe`, {
    headers: { authorization: `Bearer ${token}`, "x-ibex-agent-id": agentId }
  })
  expect(probe.status).toBe(200)
  await new Promise((r) => setTimeout(r, 100))
}

// Traced, every stream runs in a fiber; untraced, a warm stream is written without one (chat/warmChat.ts).
describe.each([
  { tracing: true, path: "traced" },
  { tracing: false, path: "untraced, warm" }
])("graceful drain ($path)", ({ tracing }) => {
  it("streams in flight complete; new connections are refused once draining; the operations listener answers /ready 503 until the end", async () => {
    const stack = await startProxyStack({ routing: routing(), drainTimeoutMs: 10_000, tracing, adminListener: true })
    const ops = stack.adminUrl as string
    expect((await fetch(`${ops}/ready`)).status).toBe(200)
    const org = await stack.runtime.runPromise(setupOrg({ rateLimitPerMinute: 1_000_000 }))
    const token = Redacted.value(org.token)
    await warmUp(stack.url, token, org.agentId)
    const streams = await Promise.all(
      Array.from({ length: 20 }, () => openStream(stack.url, token, org.agentId, "slow"))
    )
    expect(streams.map((s) => s.status)).toEqual(Array(20).fill(200))
    const closing = stack.close()
    await new Promise((r) => setTimeout(r, 50))
    const refused = await fetch(`${stack.url}/health`).then(
      (r) => `answered ${r.status}`,
      () => "refused"
    )
    expect(refused).toBe("refused")
    // While the streams drain, the operations listener is still open: /ready says so, /metrics scrapes.
    const ready = await fetch(`${ops}/ready`)
    expect(ready.status).toBe(503)
    expect((await fetch(`${ops}/metrics`)).status).toBe(200)
    const bodies = await Promise.all(streams.map((s) => s.rest))
    for (const body of bodies) {
      expect(body).toContain("data: [DONE]")
      expect(body).not.toContain("<cut>")
    }
    await closing
  }, 60_000)

  it("a stream longer than the deadline is cut when the deadline passes, and shutdown completes", async () => {
    const stack = await startProxyStack({ routing: routing(), drainTimeoutMs: 300, tracing })
    const org = await stack.runtime.runPromise(setupOrg({ rateLimitPerMinute: 1_000_000 }))
    await warmUp(stack.url, Redacted.value(org.token), org.agentId)
    const stream = await openStream(stack.url, Redacted.value(org.token), org.agentId, "endless")
    const recordsBefore = stack.usage.length
    const started = Date.now()
    await stack.close()
    const elapsed = Date.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(250)
    expect(elapsed).toBeLessThan(5_000)
    // The cut stream ended before the proxy did: its usage record was handed over (counted from
    // what it delivered; status 499, the client never got its end), its access line written.
    const cut = stack.usage.slice(recordsBefore)
    expect(cut).toHaveLength(1)
    expect(cut[0]).toMatchObject({ model: "endless", status: 499, estimated: true, stream: true })
    expect(stack.logs.some((l) => l.includes('"message":"request"') && l.includes('"status":499'))).toBe(true)
    expect(await stream.rest).not.toContain("[DONE]")
    // The upstream request was aborted with it: nothing is left running against the provider.
    const aborted = await mock.waitForAbort((r) => (r.body as { model?: string }).model === "mock-stall", 3_000)
    expect(aborted.abortedAt).toBeDefined()
  }, 60_000)
})
