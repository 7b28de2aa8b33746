import { Routing, type RoutingStatus, type RoutingTable } from "@ibex/domain"
import { Effect, Option } from "effect"

/**
 * GET /admin/routing and POST /admin/routing/reload: the table in force and how its loads went.
 * Providers show where they point and which variable holds their key, never a key.
 */
const describe = (status: RoutingStatus, table: RoutingTable) => ({
  source: status.source,
  revision: status.revision,
  loaded_at: Option.match(status.loadedAtMs, { onNone: () => null, onSome: (ms) => new Date(ms).toISOString() }),
  rejected_loads: status.rejected,
  last_error: Option.match(status.lastError, {
    onNone: () => null,
    onSome: (e) => ({
      at: new Date(e.atMs).toISOString(),
      errors: e.errors.map((f) => ({ field: f.field, message: f.message }))
    })
  }),
  providers: [...table.providers.values()].map((p) => ({
    id: p.id,
    kind: p.kind,
    base_url: p.baseUrl,
    api_key_env: Option.getOrNull(p.apiKeyEnv),
    api_key_set: Option.isSome(p.apiKey)
  })),
  models: [...table.models.values()].map((m) => ({
    name: m.name,
    targets: m.targets.map((t) => ({ provider: t.provider.id, model: t.model, priority: t.priority, weight: t.weight }))
  })),
  orgs: [...table.orgModels.entries()].map(([orgId, models]) => ({ org_id: orgId, models: [...models] }))
})

export const routingReport = Effect.gen(function* () {
  const routing = yield* Routing
  return describe(yield* routing.status, yield* routing.table)
})

export const reloadRouting = Effect.gen(function* () {
  const routing = yield* Routing
  const status = yield* routing.reload
  return describe(status, yield* routing.table)
})
