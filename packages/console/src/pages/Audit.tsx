import { Badge, Button, Code, Group, SegmentedControl, Table } from "@mantine/core"
import { useState } from "react"
import { type AuditEvent, api, can, type Me } from "../api.js"
import { Empty, Loading, Page, useLoad, when } from "../common.js"

/** The audit log, newest first: this org's events, or (platform admins) every org's and the platform's. */
export const Audit = ({ me, org }: { readonly me: Me; readonly org: string }) => {
  const platform = can(me, undefined, "platform:audit")
  const [scope, setScope] = useState<"org" | "platform">("org")
  const [before, setBefore] = useState<Array<string>>([])
  const cursor = before[before.length - 1]
  const events = useLoad(
    () => (scope === "platform" ? api.platformAudit(cursor) : api.audit(org, cursor)),
    [org, scope, cursor]
  )

  return (
    <Page
      title="Audit log"
      actions={
        platform && (
          <SegmentedControl
            value={scope}
            onChange={(v) => {
              setScope(v as "org" | "platform")
              setBefore([])
            }}
            data={[
              { value: "org", label: "This organization" },
              { value: "platform", label: "Everything" }
            ]}
          />
        )
      }
    >
      <Loading loaded={events} />
      {events.data && events.data.events.length === 0 && <Empty>No events.</Empty>}
      {events.data && events.data.events.length > 0 && (
        <Table striped data-testid="audit-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>When (UTC)</Table.Th>
              <Table.Th>Action</Table.Th>
              <Table.Th>Actor</Table.Th>
              <Table.Th>Target</Table.Th>
              <Table.Th>Request</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {events.data.events.map((e: AuditEvent) => (
              <Table.Tr key={e.id}>
                <Table.Td>{when(e.at)}</Table.Td>
                <Table.Td>
                  <Badge variant="light">{e.action}</Badge>
                </Table.Td>
                <Table.Td>
                  <Code>{e.actor}</Code>
                </Table.Td>
                <Table.Td>{e.target === null ? "—" : <Code>{e.target}</Code>}</Table.Td>
                <Table.Td>
                  <Code>{e.request_id.slice(0, 13)}…</Code>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Group>
        {before.length > 0 && (
          <Button variant="subtle" onClick={() => setBefore(before.slice(0, -1))}>
            Newer
          </Button>
        )}
        {events.data?.next_before && (
          <Button variant="subtle" onClick={() => setBefore([...before, events.data?.next_before ?? ""])}>
            Older
          </Button>
        )}
      </Group>
    </Page>
  )
}
