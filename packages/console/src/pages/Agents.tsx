import { Button, Code, Group, Table, TextInput } from "@mantine/core"
import { useState } from "react"
import { type AgentStatus, api, can, type Me } from "../api.js"
import { Empty, ErrorAlert, Loading, Page, StatusBadge, useAction, useLoad, when } from "../common.js"

const ACTIONS: ReadonlyArray<{
  action: "pause" | "archive" | "suspend" | "activate"
  label: string
  color: string
  from: ReadonlyArray<AgentStatus>
}> = [
  { action: "activate", label: "Activate", color: "green", from: ["paused", "suspended", "archived"] },
  { action: "pause", label: "Pause", color: "yellow", from: ["active"] },
  { action: "suspend", label: "Suspend", color: "red", from: ["active", "paused"] },
  { action: "archive", label: "Archive", color: "gray", from: ["active", "paused", "suspended"] }
]

export const Agents = ({ me, org }: { readonly me: Me; readonly org: string }) => {
  const agents = useLoad(() => api.agents(org), [org])
  const [name, setName] = useState("")
  const action = useAction()
  const writable = can(me, org, "agents:write")

  return (
    <Page title="Agents">
      <ErrorAlert error={action.error} />
      {writable && (
        <form
          onSubmit={async (e) => {
            e.preventDefault()
            if ((await action.run(() => api.createAgent(org, name))) !== undefined) {
              setName("")
              agents.reload()
            }
          }}
        >
          <Group align="end">
            <TextInput
              label="New agent"
              placeholder="name"
              required
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              data-testid="agent-name"
            />
            <Button type="submit" loading={action.busy} data-testid="agent-create">
              Create
            </Button>
          </Group>
        </form>
      )}
      <Loading loaded={agents} />
      {agents.data && agents.data.agents.length === 0 && <Empty>No agents yet.</Empty>}
      {agents.data && agents.data.agents.length > 0 && (
        <Table striped data-testid="agents-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Agent ID (X-IBEX-Agent-ID)</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Created</Table.Th>
              {writable && <Table.Th />}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {agents.data.agents.map((a) => (
              <Table.Tr key={a.id} data-testid={`agent-row-${a.id}`}>
                <Table.Td>{a.name}</Table.Td>
                <Table.Td>
                  <Code>{a.id}</Code>
                </Table.Td>
                <Table.Td>
                  <StatusBadge status={a.status} />
                </Table.Td>
                <Table.Td>{when(a.created_at)}</Table.Td>
                {writable && (
                  <Table.Td>
                    <Group gap="xs" justify="end">
                      {ACTIONS.filter((x) => x.from.includes(a.status)).map((x) => (
                        <Button
                          key={x.action}
                          size="xs"
                          variant="light"
                          color={x.color}
                          data-testid={`agent-${x.action}`}
                          onClick={async () => {
                            if ((await action.run(() => api.agentAction(org, a.id, x.action))) !== undefined)
                              agents.reload()
                          }}
                        >
                          {x.label}
                        </Button>
                      ))}
                    </Group>
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Page>
  )
}
