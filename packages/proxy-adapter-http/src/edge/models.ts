import { modelsForOrg, Routing } from "@ibex/domain"
import { Effect } from "effect"

/** GET /v1/models: the models the caller's org may use, in OpenAI's list shape (the SDK's `models.list()`). */
export const listModels = (orgId: string, startedAtSeconds: number) =>
  Effect.map(
    Effect.flatMap(Routing, (r) => r.table),
    (table) => ({
      object: "list",
      data: modelsForOrg(table, orgId).map((m) => ({
        id: m.name,
        object: "model",
        created: startedAtSeconds,
        owned_by: "ibex"
      }))
    })
  )
