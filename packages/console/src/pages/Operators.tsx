import { Badge, Button, Group, Table } from "@mantine/core"
import { api, type Me } from "../api.js"
import { ErrorAlert, Loading, Page, StatusBadge, useAction, useLoad, when } from "../common.js"

/** Every operator (platform admins only): disable / enable, sign out everywhere, reset two-step. */
export const Operators = ({ me }: { readonly me: Me }) => {
  const operators = useLoad(() => api.operators(), [])
  const action = useAction()
  const act = async (id: string, what: "disable" | "enable" | "signout" | "mfa/reset") => {
    if ((await action.run(() => api.operatorAction(id, what).then(() => true))) === true) operators.reload()
  }
  return (
    <Page title="Operators">
      <ErrorAlert error={action.error} />
      <Loading loaded={operators} />
      {operators.data && (
        <Table striped data-testid="operators-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>E-mail</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Two-step</Table.Th>
              <Table.Th>Since</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {operators.data.operators.map((o) => (
              <Table.Tr key={o.id}>
                <Table.Td>
                  <Group gap="xs">
                    {o.display_name}
                    {o.platform_admin && (
                      <Badge size="xs" color="grape">
                        platform admin
                      </Badge>
                    )}
                  </Group>
                </Table.Td>
                <Table.Td>{o.email}</Table.Td>
                <Table.Td>
                  <StatusBadge status={o.status} />
                </Table.Td>
                <Table.Td>{o.mfa_enabled ? "on" : "off"}</Table.Td>
                <Table.Td>{when(o.created_at)}</Table.Td>
                <Table.Td>
                  {o.id !== me.operator.id && (
                    <Group gap="xs" justify="end">
                      {o.status === "active" ? (
                        <Button size="xs" variant="light" color="red" onClick={() => void act(o.id, "disable")}>
                          Disable
                        </Button>
                      ) : (
                        <Button size="xs" variant="light" color="green" onClick={() => void act(o.id, "enable")}>
                          Enable
                        </Button>
                      )}
                      <Button size="xs" variant="light" onClick={() => void act(o.id, "signout")}>
                        Sign out everywhere
                      </Button>
                      {o.mfa_enabled && (
                        <Button size="xs" variant="light" color="orange" onClick={() => void act(o.id, "mfa/reset")}>
                          Reset two-step
                        </Button>
                      )}
                    </Group>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Page>
  )
}
