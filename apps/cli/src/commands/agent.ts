import { Args, Command, Options } from "@effect/cli"
import type { AgentId, AgentStatus } from "@ibex/domain"
import { Effect } from "effect"
import { handled, jsonOption, withSubcommandsNamed } from "../common.js"
import { emit, table } from "../output.js"
import { platform } from "../platform.js"
import { nameArg, uuidArg } from "../validate.js"
import { agentJson, PLATFORM_NOTE } from "./org.js"

export { agentJson }

const orgOption = Options.text("org").pipe(
  Options.withPseudoName("org"),
  Options.withDescription("The organization's id (UUID) or exact name.")
)

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
        const agent = yield* (yield* platform).createAgent(org, agentName)
        yield* emit(json, agentJson(agent), () => [
          `Created agent ${agent.id} "${agent.name}" in org ${agent.orgId} (active)`
        ])
      }).pipe(Effect.scoped)
    )
).pipe(Command.withDescription("Create an active agent in an org."))

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
          const updated = yield* (yield* platform).setAgentStatus(org, agentId, status)
          yield* emit(json, agentJson(updated), () => [
            `Agent ${updated.id} "${updated.name}" is now ${updated.status}`
          ])
        }).pipe(Effect.scoped)
      )
  ).pipe(Command.withDescription(`${description} (pushed to every auth cache within 300 ms)`))

const listCommand = Command.make("list", { json: jsonOption, org: orgOption }, ({ json, org }) =>
  handled(
    json,
    Effect.gen(function* () {
      const agents = yield* (yield* platform).listAgents(org)
      yield* emit(json, { agents: agents.map(agentJson) }, () =>
        agents.length === 0
          ? ["No agents in this org."]
          : table(
              ["ID", "STATUS", "CREATED", "NAME"],
              agents.map((a) => [a.id, a.status, a.createdAt.toISOString(), a.name])
            )
      )
    }).pipe(Effect.scoped)
  )
).pipe(Command.withDescription("List an org's agents."))

const agentSubcommands = [
  createCommand,
  listCommand,
  statusCommand("pause", "paused", "Pause an agent: its requests are refused until it is activated"),
  statusCommand("archive", "archived", "Archive an agent: refused, kept for the record"),
  statusCommand("suspend", "suspended", "Suspend an agent: refused, e.g. after abuse"),
  statusCommand("activate", "active", "Activate an agent again")
] as const

export const agentCommand = Command.make("agent").pipe(
  Command.withDescription(
    withSubcommandsNamed(`Agents of an org (--org <id or name>). ${PLATFORM_NOTE}`, "agent", agentSubcommands)
  ),
  Command.withSubcommands(agentSubcommands)
)
