import { Button, Group, Modal, NumberInput, Table, TextInput } from "@mantine/core"
import { useState } from "react"
import { api } from "../api.js"
import { ErrorAlert, Loading, Page, StatusBadge, useAction, useLoad, when } from "../common.js"
import { navigate, orgPath } from "../route.js"

/** Every org (platform admins only): create, disable, enable. */
export const Orgs = ({ onChanged }: { readonly onChanged: () => void }) => {
  const orgs = useLoad(() => api.orgs(), [])
  const [open, setOpen] = useState(false)
  const [name, setName] = useState("")
  const [limit, setLimit] = useState<number | string>("")
  const action = useAction()

  const create = async () => {
    const answer = await action.run(() => api.createOrg(name, typeof limit === "number" ? limit : undefined))
    if (answer !== undefined) {
      setOpen(false)
      setName("")
      setLimit("")
      orgs.reload()
      onChanged()
    }
  }
  const setStatus = async (id: string, status: "active" | "disabled") => {
    if ((await action.run(() => api.updateOrg(id, { status }))) !== undefined) orgs.reload()
  }

  return (
    <Page
      title="Organizations"
      actions={
        <Button onClick={() => setOpen(true)} data-testid="org-create-open">
          Create an organization
        </Button>
      }
    >
      <ErrorAlert error={action.error} />
      <Loading loaded={orgs} />
      <Modal opened={open} onClose={() => setOpen(false)} title="Create an organization">
        <form
          onSubmit={(e) => {
            e.preventDefault()
            void create()
          }}
        >
          <TextInput
            label="Name"
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            data-testid="org-name"
          />
          <NumberInput
            label="Requests per minute (empty: the default)"
            min={1}
            value={limit}
            onChange={setLimit}
            mt="sm"
          />
          <Group justify="end" mt="md">
            <Button type="submit" loading={action.busy} data-testid="org-create">
              Create
            </Button>
          </Group>
        </form>
      </Modal>
      {orgs.data && (
        <Table striped highlightOnHover data-testid="orgs-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Requests / min</Table.Th>
              <Table.Th>Created</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {orgs.data.orgs.map((o) => (
              <Table.Tr key={o.id} data-testid={`org-row-${o.name}`}>
                <Table.Td>{o.name}</Table.Td>
                <Table.Td>
                  <StatusBadge status={o.status} />
                </Table.Td>
                <Table.Td>{o.rate_limit_per_minute ?? "default"}</Table.Td>
                <Table.Td>{when(o.created_at)}</Table.Td>
                <Table.Td>
                  <Group gap="xs" justify="end">
                    <Button size="xs" variant="subtle" onClick={() => navigate(orgPath(o.id, "agents"))}>
                      Open
                    </Button>
                    {o.status === "active" ? (
                      <Button size="xs" variant="light" color="red" onClick={() => void setStatus(o.id, "disabled")}>
                        Disable
                      </Button>
                    ) : (
                      <Button size="xs" variant="light" color="green" onClick={() => void setStatus(o.id, "active")}>
                        Enable
                      </Button>
                    )}
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Page>
  )
}
