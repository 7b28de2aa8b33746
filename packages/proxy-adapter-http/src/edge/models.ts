import { ModelNotFound, modelsForOrg, Routing } from "@ibex/domain"
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

/** GET /v1/models/{model}: one model the org may use (`models.retrieve()`), else 404 MODEL_NOT_FOUND (an allowed-elsewhere model looks the same). */
export const retrieveModel = (orgId: string, name: string, startedAtSeconds: number) =>
  Effect.flatMap(
    Effect.flatMap(Routing, (r) => r.table),
    (table) => {
      const found = modelsForOrg(table, orgId).find((m) => m.name === name)
      return found === undefined
        ? Effect.fail(new ModelNotFound())
        : Effect.succeed({ id: found.name, object: "model", created: startedAtSeconds, owned_by: "ibex" })
    }
  )
