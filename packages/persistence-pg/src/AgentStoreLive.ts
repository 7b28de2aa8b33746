import { AgentStore, RevocationEvent } from "@ibex/domain"
import { Effect, Layer, Option, PubSub } from "effect"
import { storeOperation } from "./errors.js"
import { captureDatabase, withOrg } from "./PgClientLive.js"
import { RevocationHub } from "./RevocationHub.js"
import { type AgentRow, agentFromRow } from "./rows.js"

const firstRow = <A>(rows: ReadonlyArray<A>) =>
  rows[0] === undefined ? Effect.dieMessage("statement returned no row") : Effect.succeed(rows[0])

/**
 * AgentStore on Postgres: every operation inside its org's context, so RLS scopes it. A status
 * change is announced by trigger (NOTIFY ibex_agent_changed) and, for this process, on the
 * RevocationHub after commit (PGlite does not deliver NOTIFY across connections).
 */
export const AgentStoreLive = Layer.effect(
  AgentStore,
  Effect.gen(function* () {
    const { sql, provide } = yield* captureDatabase
    const hub = yield* RevocationHub
    return AgentStore.of({
      find: (orgId, agentId) =>
        withOrg(
          orgId,
          sql<AgentRow>`
            SELECT id, org_id, name, status, created_at FROM ibex_core.agents
            WHERE id = ${agentId} AND org_id = ${orgId}`
        ).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), agentFromRow)),
          provide,
          storeOperation("AgentStore.find")
        ),
      insert: (agent) =>
        withOrg(
          agent.orgId,
          sql<AgentRow>`
            INSERT INTO ibex_core.agents (id, org_id, name, status, created_at)
            VALUES (${agent.id}, ${agent.orgId}, ${agent.name}, ${agent.status}, ${agent.createdAt})
            RETURNING id, org_id, name, status, created_at`.pipe(Effect.flatMap(firstRow))
        ).pipe(Effect.map(agentFromRow), provide, storeOperation("AgentStore.insert")),
      list: (orgId) =>
        withOrg(
          orgId,
          sql<AgentRow>`
            SELECT id, org_id, name, status, created_at FROM ibex_core.agents
            WHERE org_id = ${orgId} ORDER BY created_at, id`
        ).pipe(
          Effect.map((rows) => rows.map(agentFromRow)),
          provide,
          storeOperation("AgentStore.list")
        ),
      setStatus: (orgId, agentId, status) =>
        withOrg(
          orgId,
          sql<AgentRow>`
            UPDATE ibex_core.agents SET status = ${status}
            WHERE id = ${agentId} AND org_id = ${orgId}
            RETURNING id, org_id, name, status, created_at`
        ).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), agentFromRow)),
          provide,
          storeOperation("AgentStore.setStatus"),
          Effect.tap((changed) =>
            Option.isSome(changed)
              ? PubSub.publish(hub, RevocationEvent.AgentChanged({ agentId: changed.value.id }))
              : Effect.void
          )
        )
    })
  })
)
