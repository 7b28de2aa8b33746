import { Redacted } from "effect"
import type { StackInfo } from "./Stack.js"

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

const routingLine = (info: StackInfo): string => {
  const models = info.routing.models.length === 0 ? "no models (chat answers 501)" : info.routing.models.join(", ")
  if (info.mockUpstreamUrl !== null)
    return `${models}: the local mock provider at ${info.mockUpstreamUrl} (set OPENAI_API_KEY, ANTHROPIC_API_KEY or IBEX_ROUTES_FILE for real ones)`
  return `${models} (${info.routing.source})`
}

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
    `  agent   ${agent}`,
    `  routing ${routingLine(info)}`,
    `  console ${info.consoleUrl}`
  ]
  if (info.operator !== null)
    lines.push(
      `  sign in ${info.operator.email} / ${Redacted.value(info.operator.password)}`,
      "          (first start only: the platform admin's password is shown once; only its Argon2id hash is stored)"
    )
  if (token !== null) {
    lines.push(`  token   ${token}`, "          (shown once: only its Argon2id hash is stored)")
  } else {
    lines.push(
      "  token   printed on the first start only and never stored in plaintext;",
      "          export IBEX_TOKEN=<that token>, or mint another with: npm start -- --new-token"
    )
  }
  // The token is pasted literally on the first start; on a restart the commands read
  // $IBEX_TOKEN, which only double quotes let the shell expand.
  const bearer = token === null ? `"Authorization: Bearer $IBEX_TOKEN"` : shellQuote(`Authorization: Bearer ${token}`)
  const smokeToken = token ?? `"$IBEX_TOKEN"`
  lines.push(
    "",
    "Try it:",
    `  curl -i -X POST ${info.proxyUrl}/v1/chat/completions \\`,
    `    -H ${bearer} \\`,
    `    -H ${shellQuote(`X-IBEX-Agent-ID: ${agent}`)} \\`,
    `    -H 'Content-Type: application/json' \\`,
    `    -d '{"model":"${info.routing.models[0] ?? "ibex-mock"}","messages":[{"role":"user","content":"hello"}]}'`,
    "",
    "Smoke test:",
    `  PROXY_URL=${info.proxyUrl} IBEX_TOKEN=${smokeToken} IBEX_AGENT_ID=${agent} npm run smoke`,
    ""
  )
  return lines.join("\n")
}
