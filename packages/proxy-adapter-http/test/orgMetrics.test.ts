import { describe, expect, it } from "vitest"
import { makeProxyMetrics } from "../src/Metrics.js"

const usage = { promptTokens: 10, completionTokens: 5, cachedTokens: 0, totalTokens: 15 }

describe("per-org usage metrics (PROXY_METRICS_ORG_LABEL)", () => {
  it("are absent by default: the org never becomes a label", async () => {
    const m = makeProxyMetrics({ processMetrics: false })
    m.tokens("p", "m", usage, "org-1")
    m.cost("p", "m", 42, "org-1")
    const text = await m.registry.metrics()
    expect(text).toContain('ibex_proxy_tokens_total{provider="p",model="m",kind="prompt"} 10')
    expect(text).not.toContain("org-1")
  })

  it("count tokens and cost per org when enabled", async () => {
    const m = makeProxyMetrics({ processMetrics: false, orgLabel: true })
    m.tokens("p", "m", usage, "org-1")
    m.cost("p", "m", 42, "org-1")
    m.cost("p", "m", 8, "org-2")
    const text = await m.registry.metrics()
    expect(text).toContain('ibex_proxy_org_tokens_total{org="org-1",provider="p",model="m",kind="completion"} 5')
    expect(text).toContain('ibex_proxy_org_cost_micro_usd_total{org="org-1",provider="p",model="m"} 42')
    expect(text).toContain('ibex_proxy_org_cost_micro_usd_total{org="org-2",provider="p",model="m"} 8')
  })
})
