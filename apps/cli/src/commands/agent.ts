import { Args, Command, Options } from "@effect/cli"
import { Agent, type AgentId, type AgentStatus, AgentStore, type OrgId, OrgStore } from "@ibex/domain"
import { Clock, Effect, Option } from "effect"
import { cliEnv, handled, jsonOption } from "../common.js"
import { openDatabase, storesOn, unreachable } from "../database.js"
import { emit, operationError, table } from "../output.js"
import { nameArg, uuidArg } from "../validate.js"
import { newUuid, PLATFORM_NOTE } from "./org.js"

export const agentJson = (agent: Agent) => ({
  id: agent.id,
  org_id: agent.orgId,
  name: agent.name,
  status: agent.status,
  created_at: agent.createdAt.toISOString()
})

const orgOption = Options.text("org").pipe(
  Options.withPseudoName("org-id"),
  Options.withDescription("The organization's id (UUID).")
)

/** Runs `body` on the store ports of the configured database, after checking the org exists. */
const inOrg = <A, E, R>(rawOrg: string, body: (orgId: OrgId) => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const orgId = yield* uuidArg<OrgId>("--org", rawOrg)
    const env = yield* cliEnv
    const target = yield* openDatabase(env)
    return yield* Effect.gen(function* () {
      const orgs = yield* OrgStore
      if (Option.isNone(yield* orgs.find(orgId))) return yield* operationError(`no org with id ${orgId}`)
      return yield* body(orgId)
    }).pipe(
      Effect.provide(storesOn(target)),
      Effect.catchTag("StoreUnavailable", () => Effect.fail(unreachable()))
    )
  }).pipe(Effect.scoped)

const createCommand = Command.make(
  "create",
  {
    json: jsonOption,
    org: orgOption,
    name: Options.text("name").pipe(
      Options.withPseudoName("name"),
      Options.withDescription("Agent name (1 to 200 characters).")
    )
  },
  ({ json, org, name }) =>
    handled(
      json,
      Effect.gen(function* () {
        const agentName = yield* nameArg("--name", name, 200)
        const agent = yield* inOrg(org, (orgId) =>
          Effect.gen(function* () {
            const agents = yield* AgentStore
            return yield* agents.insert(
              new Agent({
                id: (yield* newUuid) as AgentId,
                orgId,
                name: agentName,
                status: "active",
                createdAt: new Date(yield* Clock.currentTimeMillis)
              })
            )
          })
        )
        yield* emit(json, agentJson(agent), () => [
          `Created agent ${agent.id} "${agent.name}" in org ${agent.orgId} (active)`
        ])
      })
    )
).pipe(Command.withDescription("Create an active agent in an org (direct database write)."))

const statusCommand = (name: string, status: AgentStatus, description: string) =>
  Command.make(
    name,
    {
      json: jsonOption,
      org: orgOption,
      agent: Args.text({ name: "agent-id" }).pipe(Args.withDescription("The agent's id (UUID)."))
    },
    ({ json, org, agent }) =>
      handled(
        json,
        Effect.gen(function* () {
          const agentId = yield* uuidArg<AgentId>("agent-id", agent)
          const updated = yield* inOrg(org, (orgId) =>
            Effect.gen(function* () {
              const agents = yield* AgentStore
              const result = yield* agents.setStatus(orgId, agentId, status)
              if (Option.isNone(result)) return yield* operationError(`no agent ${agentId} in org ${orgId}`)
              return result.value
            })
          )
          yield* emit(json, agentJson(updated), () => [
            `Agent ${updated.id} "${updated.name}" is now ${updated.status}`
          ])
        })
      )
  ).pipe(Command.withDescription(`${description} (direct database write)`))

const listCommand = Command.make("list", { json: jsonOption, org: orgOption }, ({ json, org }) =>
  handled(
    json,
    Effect.gen(function* () {
      const agents = yield* inOrg(org, (orgId) => Effect.flatMap(AgentStore, (store) => store.list(orgId)))
      yield* emit(json, { agents: agents.map(agentJson) }, () =>
        agents.length === 0
          ? ["No agents in this org."]
          : table(
              ["ID", "STATUS", "CREATED", "NAME"],
              agents.map((a) => [a.id, a.status, a.createdAt.toISOString(), a.name])
            )
      )
    })
  )
).pipe(Command.withDescription("List an org's agents (direct database read)."))

export const agentCommand = Command.make("agent").pipe(
  Command.withDescription(`Agents. ${PLATFORM_NOTE}`),
  Command.withSubcommands([
    createCommand,
    listCommand,
    statusCommand("pause", "paused", "Pause an agent: its requests are refused until it is activated"),
    statusCommand("archive", "archived", "Archive an agent: refused, kept for the record"),
    statusCommand("suspend", "suspended", "Suspend an agent: refused, e.g. after abuse"),
    statusCommand("activate", "active", "Activate an agent again")
  ])
)
