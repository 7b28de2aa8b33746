import { Badge, Button, Group, Select, Table, TextInput, Title } from "@mantine/core"
import { useState } from "react"
import { api, can, type Me } from "../api.js"
import { Empty, ErrorAlert, Loading, Page, StatusBadge, useAction, useLoad, when } from "../common.js"

const ROLES = ["org_admin", "member", "viewer"]

/** The org's operators and (for admins) its pending invitations. */
export const Users = ({ me, org }: { readonly me: Me; readonly org: string }) => {
  const users = useLoad(() => api.users(org), [org])
  const mayInvite = can(me, org, "users:invite")
  const invitations = useLoad(
    () => (mayInvite ? api.invitations(org) : Promise.resolve({ invitations: [] })),
    [org, mayInvite]
  )
  const [email, setEmail] = useState("")
  const [role, setRole] = useState<string | null>("member")
  const action = useAction()

  return (
    <Page title="Users">
      <ErrorAlert error={action.error} />
      <Loading loaded={users} />
      {users.data && (
        <Table striped data-testid="users-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>E-mail</Table.Th>
              <Table.Th>Role</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Two-step</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {users.data.users.map((u) => (
              <Table.Tr key={u.operator_id}>
                <Table.Td>{u.display_name}</Table.Td>
                <Table.Td>{u.email}</Table.Td>
                <Table.Td>
                  <Badge variant="light">{u.role}</Badge>
                </Table.Td>
                <Table.Td>
                  <StatusBadge status={u.status} />
                </Table.Td>
                <Table.Td>{u.mfa_enabled ? "on" : "off"}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {mayInvite && (
        <>
          <Title order={4}>Invitations</Title>
          <form
            onSubmit={async (e) => {
              e.preventDefault()
              if (role === null) return
              if ((await action.run(() => api.invite(org, email, role))) !== undefined) {
                setEmail("")
                invitations.reload()
              }
            }}
          >
            <Group align="end">
              <TextInput
                label="E-mail"
                type="email"
                required
                value={email}
                onChange={(e) => setEmail(e.currentTarget.value)}
                data-testid="invite-email"
              />
              <Select label="Role" data={ROLES} value={role} onChange={setRole} allowDeselect={false} w={160} />
              <Button type="submit" loading={action.busy} data-testid="invite-send">
                Invite
              </Button>
            </Group>
          </form>
          <Loading loaded={invitations} />
          {invitations.data && invitations.data.invitations.length === 0 && <Empty>No pending invitations.</Empty>}
          {invitations.data && invitations.data.invitations.length > 0 && (
            <Table striped data-testid="invitations-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>E-mail</Table.Th>
                  <Table.Th>Role</Table.Th>
                  <Table.Th>Sent</Table.Th>
                  <Table.Th>Expires</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {invitations.data.invitations.map((i) => (
                  <Table.Tr key={i.id}>
                    <Table.Td>{i.email}</Table.Td>
                    <Table.Td>{i.role}</Table.Td>
                    <Table.Td>{when(i.created_at)}</Table.Td>
                    <Table.Td>{when(i.expires_at)}</Table.Td>
                    <Table.Td>
                      <Button
                        size="xs"
                        variant="light"
                        color="red"
                        onClick={async () => {
                          if ((await action.run(() => api.cancelInvitation(org, i.id).then(() => true))) === true)
                            invitations.reload()
                        }}
                      >
                        Cancel
                      </Button>
                    </Table.Td>
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
