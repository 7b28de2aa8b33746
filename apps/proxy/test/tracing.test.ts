import { Metadata, type ServiceError } from "@grpc/grpc-js"
import { AuthClient } from "@ibex/auth-adapter-grpc"
import { call, header } from "@ibex/testkit/security"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { Redacted } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { eventually, startProxyStack } from "./stack.js"

let env: Awaited<ReturnType<typeof startProxyStack>>
let token: string
const probe = "/v1/internal/auth-probe"

beforeAll(async () => {
  env = await startProxyStack()
  token = Redacted.value(env.org.token)
})
afterAll(async () => {
  await env?.close()
})
beforeEach(() => {
  env.spans.reset()
})

const finished = () => env.spans.getFinishedSpans()
const spanId = (s: ReadableSpan) => s.spanContext().spanId
const traceId = (s: ReadableSpan) => s.spanContext().traceId
const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId

/** The span's ancestors in the exported set, nearest first. */
const ancestors = (span: ReadableSpan, all: ReadonlyArray<ReadableSpan>): Array<ReadableSpan> => {
  const byId = new Map(all.map((s) => [spanId(s), s]))
  const chain: Array<ReadableSpan> = []
  let parent = parentId(span)
  while (parent !== undefined) {
    const next = byId.get(parent)
    if (next === undefined || chain.includes(next)) break
    chain.push(next)
    parent = parentId(next)
  }
  return chain
}

/** Every string a span carries: name, attributes, event names and attributes, resource attributes. */
const spanStrings = (s: ReadableSpan): Array<string> => [
  s.name,
  ...Object.entries(s.attributes).flatMap(([k, v]) => [k, String(v)]),
  ...s.events.flatMap((e) => [e.name, ...Object.entries(e.attributes ?? {}).flatMap(([k, v]) => [k, String(v)])])
]

const secretParts = () => {
  // After `ibex_pat_<uuid>_`: the secret itself may contain "_" (base64url), so not after the last one.
  const secret = token.slice("ibex_pat_".length + 36 + 1)
  return [token, secret, `Bearer ${token}`]
}

describe("one proxied request is one trace across the gRPC hop", () => {
  it("the proxy's request span is an ancestor of the auth server's Authorize span (one call on a cache miss)", async () => {
    const o = await call(env.url, { path: probe, token, agentId: env.org.agentId })
    expect(o.status).toBe(200)

    const request = await eventually(() => finished().find((s) => s.name === "proxy.request"))
    const spans = finished()
    const authorize = spans.find((s) => s.name === "AuthService.Authorize")
    expect(authorize, "the auth server's Authorize span was exported").toBeDefined()
    if (authorize === undefined) return
    expect(
      spans.filter((s) => s.name.startsWith("AuthService.")).map((s) => s.name),
      "one remote call per request"
    ).toEqual(["AuthService.Authorize"])

    // One trace: the X-Trace-ID the client saw is the trace of both services' spans.
    expect(header(o, "x-trace-id")).toBe(traceId(request))
    expect(traceId(authorize)).toBe(traceId(request))
    expect(new Set(spans.map(traceId)).size, "every span of this request is in one trace").toBe(1)

    // Parentage: server span → the proxy's client span → the proxy's request span.
    // (the domain's Proxy.authorize span sits between the request and the client span).
    const chain = ancestors(authorize, spans)
    expect(chain[0]?.name).toBe("AuthClient.Authorize")
    expect(chain[0]?.kind).toBe(2) // CLIENT
    expect(authorize.kind).toBe(1) // SERVER
    expect(chain.at(-1), "the chain ends at the proxy's request span").toBe(request)
    expect(parentId(request), "a request without traceparent starts a trace").toBeUndefined()

    // The request span: route template and status, never the path's values or a header.
    expect(request.attributes["http.route"]).toBe(probe)
    expect(request.attributes["http.response.status_code"]).toBe(200)
    expect(request.attributes["http.request.method"]).toBe("GET")
    expect(authorize.attributes["rpc.method"]).toBe("Authorize")
    expect(authorize.attributes["ibex.org_id"]).toBe(env.org.orgId)

    for (const s of spans)
      for (const text of spanStrings(s))
        for (const secret of secretParts()) expect(text, `span ${s.name} carries the token`).not.toContain(secret)
  })

  it("a warm request calls nobody and keeps its Proxy.authorize span under the request span", async () => {
    // Warm once the cache holds the (token, agent) and trusts auth's stream; a few tries absorb
    // a moment of lost trust on a loaded machine (then the request is a miss, which is correct).
    for (let attempt = 0; attempt < 20; attempt++) {
      env.spans.reset()
      const o = await call(env.url, { path: probe, token, agentId: env.org.agentId })
      expect(o.status).toBe(200)
      const trace = header(o, "x-trace-id")
      const request = await eventually(() => finished().find((s) => s.name === "proxy.request" && traceId(s) === trace))
      const spans = finished().filter((s) => traceId(s) === trace)
      if (spans.some((s) => s.name === "AuthClient.Authorize")) continue
      const authorize = spans.find((s) => s.name === "Proxy.authorize")
      expect(authorize, "the warm path keeps the long way's span").toBeDefined()
      expect(authorize && parentId(authorize)).toBe(spanId(request))
      return
    }
    expect.fail("no request was answered from the cache in 20 tries")
  })

  it("an inbound W3C traceparent is continued by the proxy and, through it, by the auth server", async () => {
    const inboundTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    const inboundSpan = "00f067aa0ba902b7"
    // An agent id the proxy has not cached, so the request goes to auth (and is refused there).
    const o = await call(env.url, {
      path: probe,
      token,
      agentId: crypto.randomUUID(),
      headers: { traceparent: `00-${inboundTrace}-${inboundSpan}-01` }
    })
    expect(o.status).toBe(403)
    expect(header(o, "x-trace-id")).toBe(inboundTrace)
    const request = await eventually(() => finished().find((s) => s.name === "proxy.request"))
    expect(parentId(request)).toBe(inboundSpan)
    const authorize = finished().find((s) => s.name === "AuthService.Authorize")
    expect(authorize && traceId(authorize)).toBe(inboundTrace)
  })

  it("the access log line carries request id, trace id and org id, and no line carries the token", async () => {
    const before = env.logs.length
    const o = await call(env.url, { path: probe, token, agentId: env.org.agentId })
    expect(o.status).toBe(200)
    const line = await eventually(() =>
      env.logs
        .slice(before)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.message === "request" && l.request_id === header(o, "x-request-id"))
    )
    expect(line.trace_id).toBe(header(o, "x-trace-id"))
    expect(line.org_id).toBe(env.org.orgId)
    expect(line.route).toBe(probe)
    for (const l of env.logs) for (const secret of secretParts()) expect(l).not.toContain(secret)
  })
})

describe("the auth server reads traceparent metadata strictly", () => {
  const validateWith = async (traceparents: ReadonlyArray<string>) => {
    const client = await env.runtime.runPromise(AuthClient)
    const metadata = new Metadata()
    for (const t of traceparents) metadata.add("traceparent", t)
    await new Promise<void>((resolve) => {
      client.raw.validateToken(
        { token: "ibex_pat_not_a_token" },
        metadata,
        { deadline: Date.now() + 2_000 },
        (_e: ServiceError | null) => resolve()
      )
    })
    return eventually(() => finished().find((s) => s.name === "AuthService.ValidateToken"))
  }
  const trace = "0af7651916cd43dd8448eb211c80319c"
  const parent = "b7ad6b7169203331"

  it("adopts a well-formed traceparent (same trace, parent span id, remote parent)", async () => {
    const span = await validateWith([`00-${trace}-${parent}-01`])
    expect(traceId(span)).toBe(trace)
    expect(parentId(span)).toBe(parent)
  })

  it.each([
    ["uppercase hex", `00-${trace.toUpperCase()}-${parent}-01`],
    ["all-zero trace id", `00-${"0".repeat(32)}-${parent}-01`],
    ["all-zero span id", `00-${trace}-${"0".repeat(16)}-01`],
    ["version ff", `ff-${trace}-${parent}-01`],
    ["version 00 with a suffix", `00-${trace}-${parent}-01-extra`],
    ["short trace id", `00-${trace.slice(2)}-${parent}-01`],
    ["surrounding space", ` 00-${trace}-${parent}-01`],
    ["garbage", "not a traceparent"]
  ])("ignores a malformed traceparent (%s): a fresh trace, no parent", async (_name, value) => {
    const span = await validateWith([value])
    expect(traceId(span)).not.toBe(trace)
    expect(parentId(span)).toBeUndefined()
  })

  it("ignores a repeated traceparent", async () => {
    const span = await validateWith([`00-${trace}-${parent}-01`, `00-${trace}-${parent}-00`])
    expect(traceId(span)).not.toBe(trace)
    expect(parentId(span)).toBeUndefined()
  })
})
