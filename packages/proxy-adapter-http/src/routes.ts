import type { ProtectedRoute } from "@ibex/domain"

/** Every route the proxy serves (seed 004's endpoint surface) and nothing else. */
export type RouteKey = "GET /health" | "GET /ready" | "GET /metrics" | ProtectedRoute

export type RouteMatch =
  | {
      readonly _tag: "Route"
      readonly route: RouteKey
      readonly template: string
      readonly pathOrgId?: string
      /** `GET /v1/models/{model}`: the model id, percent-decoded. */
      readonly pathModel?: string
    }
  | { readonly _tag: "MethodNotAllowed"; readonly template: string; readonly allow: ReadonlyArray<string> }
  | { readonly _tag: "NotFound" }

interface Entry {
  readonly template: string
  readonly methods: Readonly<Record<string, RouteKey>>
}

/**
 * HEAD runs the GET handler (node:http sends the headers and drops the body): load balancers
 * probe liveness and readiness with HEAD, and a 405 there takes the instance out of rotation.
 */
const fixed: ReadonlyMap<string, Entry> = new Map([
  ["/health", { template: "/health", methods: { GET: "GET /health", HEAD: "GET /health" } }],
  ["/ready", { template: "/ready", methods: { GET: "GET /ready", HEAD: "GET /ready" } }],
  ["/metrics", { template: "/metrics", methods: { GET: "GET /metrics" } }],
  ["/v1/internal/auth-probe", { template: "/v1/internal/auth-probe", methods: { GET: "GET /v1/internal/auth-probe" } }],
  ["/v1/chat/completions", { template: "/v1/chat/completions", methods: { POST: "POST /v1/chat/completions" } }],
  ["/v1/models", { template: "/v1/models", methods: { GET: "GET /v1/models" } }],
  ["/admin/routing", { template: "/admin/routing", methods: { GET: "GET /admin/routing" } }],
  ["/admin/routing/reload", { template: "/admin/routing/reload", methods: { POST: "POST /admin/routing/reload" } }]
])

const orgProbe: Entry = {
  template: "/v1/orgs/{org_id}/auth-probe",
  methods: { GET: "GET /v1/orgs/{org_id}/auth-probe" }
}
const orgProbePattern = /^\/v1\/orgs\/([^/]+)\/auth-probe$/

const modelEntry: Entry = { template: "/v1/models/{model}", methods: { GET: "GET /v1/models/{model}" } }
const modelPattern = /^\/v1\/models\/([^/]+)$/

/** The path without query or fragment; only origin-form targets (`/…`) can match. */
export const pathOf = (url: string): string => {
  let end = url.length
  const q = url.indexOf("?")
  if (q !== -1) end = q
  const h = url.indexOf("#")
  if (h !== -1 && h < end) end = h
  return url.slice(0, end)
}

export const matchRoute = (method: string, url: string): RouteMatch => {
  const path = pathOf(url)
  let entry = fixed.get(path)
  let pathOrgId: string | undefined
  let pathModel: string | undefined
  if (entry === undefined) {
    const m = orgProbePattern.exec(path)
    if (m !== null) {
      entry = orgProbe
      pathOrgId = m[1]
    }
  }
  if (entry === undefined) {
    const m = modelPattern.exec(path)
    if (m !== null) {
      try {
        pathModel = decodeURIComponent(m[1] ?? "")
        entry = modelEntry
      } catch {
        return { _tag: "NotFound" }
      }
    }
  }
  if (entry === undefined) return { _tag: "NotFound" }
  const route = entry.methods[method]
  if (route === undefined)
    return { _tag: "MethodNotAllowed", template: entry.template, allow: Object.keys(entry.methods) }
  if (pathModel !== undefined) return { _tag: "Route", route, template: entry.template, pathModel }
  return pathOrgId === undefined
    ? { _tag: "Route", route, template: entry.template }
    : { _tag: "Route", route, template: entry.template, pathOrgId }
}

/**
 * Seconds a 503 asks the client to wait (`Retry-After`): readiness probes and SDK retries back
 * off instead of hammering an instance whose dependency is down. A 429 sets its own.
 */
export const RETRY_AFTER_UNAVAILABLE_SECONDS = "1"
