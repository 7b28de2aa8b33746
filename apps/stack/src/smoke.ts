/**
 * The dev smoke test (seed 000 goal 1.4, `make dev-smoke`): against a running stack, checks
 * health, readiness, both auth probes, an auth failure, the rate-limit headers and the chat
 * stub. Prints one line per check and exits non-zero on any deviation.
 *
 *   IBEX_TOKEN=ibex_pat_… IBEX_AGENT_ID=… npm run smoke        (PROXY_URL defaults to http://127.0.0.1:8080)
 */

import { loadDotEnv } from "@ibex/app-common"

export interface SmokeOptions {
  readonly proxyUrl: string
  readonly token: string
  readonly agentId: string
  readonly log?: (line: string) => void
}

export interface SmokeResult {
  readonly passed: number
  readonly failed: ReadonlyArray<string>
}

interface Exchange {
  readonly status: number
  readonly headers: Headers
  readonly body: unknown
  readonly text: string
}

const exchange = async (url: string, init: RequestInit = {}): Promise<Exchange> => {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) })
  const text = await res.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: res.status, headers: res.headers, body, text }
}

const codeOf = (e: Exchange): unknown => (e.body as { error?: { code?: unknown } } | undefined)?.error?.code

export const runSmoke = async (options: SmokeOptions): Promise<SmokeResult> => {
  const log = options.log ?? ((line: string) => console.log(line))
  const base = options.proxyUrl.replace(/\/+$/, "")
  const auth = { authorization: `Bearer ${options.token}`, "x-ibex-agent-id": options.agentId }
  const failed: Array<string> = []
  let passed = 0

  const check = async (name: string, run: () => Promise<string | undefined>) => {
    try {
      const problem = await run()
      if (problem === undefined) {
        passed++
        log(`ok    ${name}`)
      } else {
        failed.push(`${name}: ${problem}`)
        log(`FAIL  ${name}: ${problem}`)
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      failed.push(`${name}: ${message}`)
      log(`FAIL  ${name}: ${message}`)
    }
  }
  const leaks = (e: Exchange) => e.text.includes(options.token) || e.text.includes(options.token.slice(-43))

  await check("GET /health is 200 ok", async () => {
    const e = await exchange(`${base}/health`)
    return e.status === 200 && (e.body as { status?: string }).status === "ok"
      ? undefined
      : `status ${e.status} ${e.text}`
  })
  await check("GET /ready is 200 ready (within 10 s of start)", async () => {
    // Readiness may lag a fresh start (connections still opening); a smoke waits for it, briefly.
    const until = Date.now() + 10_000
    let e = await exchange(`${base}/ready`)
    while (e.status !== 200 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250))
      e = await exchange(`${base}/ready`)
    }
    return e.status === 200 ? undefined : `status ${e.status} ${e.text}`
  })
  let orgId = ""
  await check("GET /v1/internal/auth-probe returns the token's org", async () => {
    const e = await exchange(`${base}/v1/internal/auth-probe`, { headers: auth })
    orgId = String((e.body as { org_id?: string } | undefined)?.org_id ?? "")
    if (e.status !== 200 || orgId === "") return `status ${e.status} ${e.text}`
    if (!e.headers.get("x-request-id")) return "no X-Request-ID"
    return leaks(e) ? "the token came back in the body" : undefined
  })
  await check("GET /v1/orgs/{org_id}/auth-probe for the token's own org", async () => {
    const e = await exchange(`${base}/v1/orgs/${orgId}/auth-probe`, { headers: auth })
    return e.status === 200 ? undefined : `status ${e.status} ${e.text}`
  })
  await check("another org's probe is 403", async () => {
    const e = await exchange(`${base}/v1/orgs/00000000-0000-4000-8000-000000000000/auth-probe`, { headers: auth })
    return e.status === 403 ? undefined : `status ${e.status} ${e.text}`
  })
  await check("a bad token is 401 INVALID_TOKEN with the envelope", async () => {
    const e = await exchange(`${base}/v1/internal/auth-probe`, {
      headers: { authorization: "Bearer not_a_token", "x-ibex-agent-id": options.agentId }
    })
    if (e.status !== 401 || codeOf(e) !== "INVALID_TOKEN") return `status ${e.status} ${e.text}`
    const requestId = (e.body as { error: { request_id?: string } }).error.request_id
    return requestId === e.headers.get("x-request-id") ? undefined : "request_id does not match X-Request-ID"
  })
  await check("a missing token is 401 MISSING_TOKEN", async () => {
    const e = await exchange(`${base}/v1/internal/auth-probe`)
    return e.status === 401 && codeOf(e) === "MISSING_TOKEN" ? undefined : `status ${e.status} ${e.text}`
  })
  await check("rate-limit headers on a protected route", async () => {
    const e = await exchange(`${base}/v1/internal/auth-probe`, { headers: auth })
    const limit = e.headers.get("x-ratelimit-limit")
    const remaining = e.headers.get("x-ratelimit-remaining")
    const reset = e.headers.get("x-ratelimit-reset")
    if (e.status !== 200) return `status ${e.status}`
    if (!limit || !remaining || !reset)
      return `missing X-RateLimit-* (limit ${limit}, remaining ${remaining}, reset ${reset})`
    return Number(remaining) < Number(limit) ? undefined : "remaining did not decrement"
  })
  await check("POST /v1/chat/completions answers a model GET /v1/models lists (501 when none is routed)", async () => {
    const models = await exchange(`${base}/v1/models`, { headers: auth })
    if (models.status !== 200) return `GET /v1/models: status ${models.status} ${models.text}`
    const first = (models.body as { data?: Array<{ id?: string }> } | undefined)?.data?.[0]?.id
    const e = await exchange(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ model: first ?? "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] })
    })
    if (first === undefined)
      return e.status === 501 && codeOf(e) === "PROVIDER_NOT_CONFIGURED" ? undefined : `status ${e.status} ${e.text}`
    const content = (e.body as { choices?: Array<{ message?: { content?: unknown } }> } | undefined)?.choices?.[0]
      ?.message?.content
    if (e.status !== 200 || typeof content !== "string") return `model ${first}: status ${e.status} ${e.text}`
    return e.headers.get("x-ibex-provider") === null ? "no X-IBEX-Provider header" : undefined
  })
  await check("malformed chat body is 400 with field_errors", async () => {
    const e = await exchange(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [] })
    })
    const fields = (e.body as { error?: { field_errors?: Array<unknown> } } | undefined)?.error?.field_errors
    return e.status === 400 && Array.isArray(fields) && fields.length > 0 ? undefined : `status ${e.status} ${e.text}`
  })

  log(`${passed} passed, ${failed.length} failed`)
  return { passed, failed }
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href
if (isMain) {
  // `.env` in the working directory, as every entry point reads it; the environment wins.
  loadDotEnv()
  const token = process.env.IBEX_TOKEN ?? ""
  const agentId = process.env.IBEX_AGENT_ID ?? ""
  if (token === "" || agentId === "") {
    console.error("smoke: set IBEX_TOKEN and IBEX_AGENT_ID (npm start prints both on first run).")
    process.exit(2)
  }
  const result = await runSmoke({ proxyUrl: process.env.PROXY_URL ?? "http://127.0.0.1:8080", token, agentId })
  process.exit(result.failed.length === 0 ? 0 : 1)
}
