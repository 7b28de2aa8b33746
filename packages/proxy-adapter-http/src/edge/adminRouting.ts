import { modelsForOrg, Routing, type RoutingStatus, type RoutingTable } from "@ibex/domain"
import { Effect, Option } from "effect"

/**
 * GET /admin/routing and POST /admin/routing/reload: the table in force and how its loads went,
 * as the caller's org sees it. `routing:admin` is an org's permission (an org's own admins can
 * grant it), so the report holds nothing of another tenant: the models the org may use, the
 * providers behind them, and the org's own allowlist; never another org's id or allowlist.
 * Providers show where they point and which variable holds their key, never a key.
 */
/**
 * A field error about one provider, model or org entry: its message can name another tenant's
 * model, provider or key variable, so a caller sees only where it is (the proxy's log has it
 * whole). Errors of the file as a whole (syntax, `retry`, …) keep their message.
 */
const entryField = /^(providers|models|orgs)\./

const describe = (status: RoutingStatus, table: RoutingTable, orgId: string) => {
  const models = modelsForOrg(table, orgId)
  const providers = new Set(models.flatMap((m) => m.targets.map((t) => t.provider.id)))
  const own = table.orgModels.get(orgId)
  return {
    source: status.source,
    revision: status.revision,
    loaded_at: Option.match(status.loadedAtMs, { onNone: () => null, onSome: (ms) => new Date(ms).toISOString() }),
    rejected_loads: status.rejected,
    last_error: Option.match(status.lastError, {
      onNone: () => null,
      onSome: (e) => ({
        at: new Date(e.atMs).toISOString(),
        errors: e.errors.map((f) =>
          entryField.test(f.field) ? { field: f.field } : { field: f.field, message: f.message }
        )
      })
    }),
    providers: [...table.providers.values()]
      .filter((p) => providers.has(p.id))
      .map((p) => ({
        id: p.id,
        kind: p.kind,
        base_url: p.baseUrl,
        api_key_env: Option.getOrNull(p.apiKeyEnv),
        api_key_set: Option.isSome(p.apiKey)
      })),
    models: models.map((m) => ({
      name: m.name,
      targets: m.targets.map((t) => ({
        provider: t.provider.id,
        model: t.model,
        priority: t.priority,
        weight: t.weight
      }))
    })),
    orgs: own === undefined ? [] : [{ org_id: orgId, models: [...own] }]
  }
}

export const routingReport = (orgId: string) =>
  Effect.gen(function* () {
    const routing = yield* Routing
    return describe(yield* routing.status, yield* routing.table, orgId)
  })

export const reloadRouting = (orgId: string) =>
  Effect.gen(function* () {
    const routing = yield* Routing
    const status = yield* routing.reload
    return describe(status, yield* routing.table, orgId)
  })
