import { Redacted } from "effect"
import type { StackInfo } from "./Stack.js"

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** What a person needs after `npm start`: where things are, the dev credentials, a curl to paste. */
export const banner = (info: StackInfo): string => {
  const token = info.seed.token ? Redacted.value(info.seed.token.token) : null
  const agent = info.seed.agentId ?? "<agent id>"
  const db = info.database === "embedded" ? `embedded PGlite (${info.dataDir})` : "Postgres (DATABASE_URL)"
  const limiter = info.rateLimiter === "redis" ? "Redis (REDIS_URL)" : "in-memory rate limiter"
  const lines = [
    "",
    `IBEX Harness is running: ${db}, ${limiter}`,
    `  proxy   ${info.proxyUrl}`,
    `  auth    ${info.authAddress} (gRPC), ${info.authAdminUrl} (/health, /ready, /metrics)`,
    `  org     ${info.seed.orgId}`,
    `  agent   ${agent}`
  ]
  if (token !== null) {
    lines.push(`  token   ${token}`, "          (shown once: only its Argon2id hash is stored)")
  } else {
    lines.push(
      "  token   printed on the first start only and never stored in plaintext;",
      "          mint another with: npm start -- --new-token"
    )
  }
  const bearer = token ?? "$IBEX_TOKEN"
  lines.push(
    "",
    "Try it:",
    `  curl -i -X POST ${info.proxyUrl}/v1/chat/completions \\`,
    `    -H ${shellQuote(`Authorization: Bearer ${bearer}`)} \\`,
    `    -H ${shellQuote(`X-IBEX-Agent-ID: ${agent}`)} \\`,
    `    -H 'Content-Type: application/json' \\`,
    `    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'`,
    "",
    "Smoke test:",
    `  PROXY_URL=${info.proxyUrl} IBEX_TOKEN=${token ?? "<token>"} IBEX_AGENT_ID=${agent} npm run smoke`,
    ""
  )
  return lines.join("\n")
}
