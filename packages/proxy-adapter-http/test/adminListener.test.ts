import { afterEach, describe, expect, it } from "vitest"
import { startMemoryProxy } from "./harness.js"

/** Issue 14 item 8: operations on a listener of their own, off the public one. */
describe("the admin listener", () => {
  let close: (() => Promise<void>) | undefined
  afterEach(async () => {
    await close?.()
    close = undefined
  })

  it("serves /health, /ready and /metrics; the main port keeps /health only", async () => {
    const proxy = await startMemoryProxy({ adminPort: 0 })
    close = proxy.close
    expect(proxy.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const admin = proxy.adminUrl ?? ""
    expect((await fetch(`${admin}/health`)).status).toBe(200)
    expect((await fetch(`${admin}/ready`)).status).toBe(200)
    expect(await (await fetch(`${admin}/metrics`)).text()).toContain("ibex_proxy_http_requests_total")
    expect((await fetch(`${admin}/v1/chat/completions`, { method: "POST" })).status).toBe(404)
    expect((await fetch(`${proxy.url}/health`)).status).toBe(200)
    expect((await fetch(`${proxy.url}/metrics`)).status).toBe(404)
    expect((await fetch(`${proxy.url}/ready`)).status).toBe(404)
  })

  it("keeps the operations on the main port too when configured so", async () => {
    const proxy = await startMemoryProxy({ adminPort: 0, opsOnMainPort: true })
    close = proxy.close
    expect((await fetch(`${proxy.url}/metrics`)).status).toBe(200)
    expect((await fetch(`${proxy.adminUrl ?? ""}/metrics`)).status).toBe(200)
  })

  it("without an admin port everything stays on the main port", async () => {
    const proxy = await startMemoryProxy()
    close = proxy.close
    expect(proxy.adminUrl).toBeNull()
    expect((await fetch(`${proxy.url}/metrics`)).status).toBe(200)
    expect((await fetch(`${proxy.url}/ready`)).status).toBe(200)
  })
})
