import { Badge, Button, Group, Select, Table, Title } from "@mantine/core"
import { api, can, type Me } from "../api.js"
import { ErrorAlert, Loading, Page, useAction, useLoad, when } from "../common.js"

const ASSIGNABLE = ["org_admin", "member", "viewer"]

/** The roles and their rights; the org's role assignments (change, remove). */
export const Roles = ({ me, org }: { readonly me: Me; readonly org: string }) => {
  const roles = useLoad(() => api.roles(), [])
  const mayRead = can(me, org, "assignments:read")
  const mayWrite = can(me, org, "assignments:write")
  const assignments = useLoad(
    () => (mayRead ? api.assignments(org) : Promise.resolve({ assignments: [] })),
    [org, mayRead]
  )
  const action = useAction()

  return (
    <Page title="Roles">
      <ErrorAlert error={action.error} />
      <Loading loaded={roles} />
      {roles.data && (
        <Table data-testid="roles-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Role</Table.Th>
              <Table.Th>Rights</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {roles.data.roles.map((r) => (
              <Table.Tr key={r.name}>
                <Table.Td>
                  <Badge variant="light">{r.name}</Badge>
                </Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    {r.rights.map((x) => (
                      <Badge key={x} size="xs" variant="outline" color="gray">
                        {x}
                      </Badge>
                    ))}
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {mayRead && (
        <>
          <Title order={4}>Assignments in this organization</Title>
          <Loading loaded={assignments} />
          {assignments.data && (
            <Table striped data-testid="assignments-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Operator</Table.Th>
                  <Table.Th>E-mail</Table.Th>
                  <Table.Th>Role</Table.Th>
                  <Table.Th>Since</Table.Th>
                  {mayWrite && <Table.Th />}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {assignments.data.assignments.map((a) => (
                  <Table.Tr key={a.operator_id}>
                    <Table.Td>{a.display_name}</Table.Td>
                    <Table.Td>{a.email}</Table.Td>
                    <Table.Td>
                      {mayWrite && a.operator_id !== me.operator.id ? (
                        <Select
                          size="xs"
                          w={140}
                          data={ASSIGNABLE}
                          value={a.role}
                          allowDeselect={false}
                          onChange={async (role) => {
                            if (
                              role !== null &&
                              (await action.run(() => api.assign(org, a.operator_id, role))) !== undefined
                            )
                              assignments.reload()
                          }}
                        />
                      ) : (
                        <Badge variant="light">{a.role}</Badge>
                      )}
                    </Table.Td>
                    <Table.Td>{when(a.created_at)}</Table.Td>
                    {mayWrite && (
                      <Table.Td>
                        {a.operator_id !== me.operator.id && (
                          <Button
                            size="xs"
                            variant="light"
                            color="red"
                            onClick={async () => {
                              if ((await action.run(() => api.unassign(org, a.operator_id).then(() => true))) === true)
                                assignments.reload()
                            }}
                          >
                            Remove
                          </Button>
                        )}
                      </Table.Td>
                    )}
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </>
      )}
    </Page>
  )
}
