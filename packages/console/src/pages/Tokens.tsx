import {
  Alert,
  Badge,
  Button,
  Checkbox,
  Code,
  CopyButton,
  Group,
  Modal,
  Stack,
  Table,
  Text,
  TextInput
} from "@mantine/core"
import { useState } from "react"
import { api, can, MEMBER_TOKEN_PERMISSIONS, type Me, TOKEN_PERMISSIONS, type Token } from "../api.js"
import { Empty, ErrorAlert, Loading, Page, StatusBadge, useAction, useLoad, when } from "../common.js"

const tokenStatus = (t: Token): string =>
  t.revoked_at !== null
    ? "revoked"
    : t.expires_at !== null && Date.parse(t.expires_at) <= Date.now()
      ? "expired"
      : "active"

/** Personal access tokens of the org: create (plaintext shown once), list, revoke. */
export const Tokens = ({ me, org }: { readonly me: Me; readonly org: string }) => {
  const [cursor, setCursor] = useState<string | undefined>(undefined)
  const tokens = useLoad(() => api.tokens(org, cursor), [org, cursor])
  const writable = can(me, org, "tokens:write")
  const grantable = can(me, org, "assignments:write") ? TOKEN_PERMISSIONS : MEMBER_TOKEN_PERMISSIONS
  const [open, setOpen] = useState(false)
  const [name, setName] = useState("")
  const [permissions, setPermissions] = useState<Array<string>>(["chat:completions"])
  const [expires, setExpires] = useState("")
  const [minted, setMinted] = useState<string | undefined>(undefined)
  const action = useAction()

  const create = async () => {
    const answer = await action.run(() =>
      api.createToken(org, name, permissions, expires === "" ? null : new Date(expires).toISOString())
    )
    if (answer !== undefined) {
      setMinted(answer.token)
      setName("")
      tokens.reload()
    }
  }

  return (
    <Page
      title="Tokens"
      actions={
        writable && (
          <Button
            onClick={() => {
              setMinted(undefined)
              setOpen(true)
            }}
            data-testid="token-create-open"
          >
            Create a token
          </Button>
        )
      }
    >
      <ErrorAlert error={action.error} />
      <Modal
        opened={open}
        onClose={() => {
          setOpen(false)
          setMinted(undefined)
        }}
        title={minted === undefined ? "Create a token" : "Your new token"}
        size="lg"
      >
        {minted === undefined ? (
          <form
            onSubmit={(e) => {
              e.preventDefault()
              void create()
            }}
          >
            <Stack>
              <ErrorAlert error={action.error} />
              <TextInput
                label="Name"
                required
                value={name}
                onChange={(e) => setName(e.currentTarget.value)}
                data-testid="token-name"
              />
              <Checkbox.Group label="Permissions" value={permissions} onChange={setPermissions}>
                <Group mt="xs">
                  {grantable.map((p) => (
                    <Checkbox key={p} value={p} label={p} />
                  ))}
                </Group>
              </Checkbox.Group>
              <TextInput
                label="Expires (optional)"
                type="datetime-local"
                value={expires}
                onChange={(e) => setExpires(e.currentTarget.value)}
              />
              <Group justify="end">
                <Button
                  type="submit"
                  loading={action.busy}
                  disabled={permissions.length === 0}
                  data-testid="token-create"
                >
                  Create
                </Button>
              </Group>
            </Stack>
          </form>
        ) : (
          <Stack>
            <Alert color="yellow" title="Copy it now">
              This is the only time the token is shown: only its hash is stored.
            </Alert>
            <Code block data-testid="token-plaintext">
              {minted}
            </Code>
            <Group justify="end">
              <CopyButton value={minted}>
                {({ copied, copy }) => (
                  <Button variant="light" color={copied ? "green" : "blue"} onClick={copy} data-testid="token-copy">
                    {copied ? "Copied" : "Copy"}
                  </Button>
                )}
              </CopyButton>
              <Button
                onClick={() => {
                  setOpen(false)
                  setMinted(undefined)
                }}
                data-testid="token-done"
              >
                Done
              </Button>
            </Group>
          </Stack>
        )}
      </Modal>
      <Loading loaded={tokens} />
      {tokens.data && tokens.data.tokens.length === 0 && <Empty>No tokens.</Empty>}
      {tokens.data && tokens.data.tokens.length > 0 && (
        <Table striped data-testid="tokens-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Prefix</Table.Th>
              <Table.Th>Permissions</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Created</Table.Th>
              <Table.Th>Last used</Table.Th>
              {writable && <Table.Th />}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {tokens.data.tokens.map((t) => (
              <Table.Tr key={t.id} data-testid={`token-row-${t.name}`}>
                <Table.Td>{t.name}</Table.Td>
                <Table.Td>
                  <Code>{t.display_prefix}</Code>
                </Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    {t.permissions.map((p) => (
                      <Badge key={p} size="xs" variant="outline">
                        {p}
                      </Badge>
                    ))}
                  </Group>
                </Table.Td>
                <Table.Td>
                  <StatusBadge status={tokenStatus(t)} />
                </Table.Td>
                <Table.Td>{when(t.created_at)}</Table.Td>
                <Table.Td>{when(t.last_used_at)}</Table.Td>
                {writable && (
                  <Table.Td>
                    {t.revoked_at === null && (
                      <Button
                        size="xs"
                        variant="light"
                        color="red"
                        data-testid="token-revoke"
                        onClick={async () => {
                          if ((await action.run(() => api.revokeToken(org, t.id))) !== undefined) tokens.reload()
                        }}
                      >
                        Revoke
                      </Button>
                    )}
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Group>
        {cursor !== undefined && (
          <Button variant="subtle" onClick={() => setCursor(undefined)}>
            First page
          </Button>
        )}
        {tokens.data?.next_cursor && (
          <Button variant="subtle" onClick={() => setCursor(tokens.data?.next_cursor ?? undefined)}>
            Next page
          </Button>
        )}
      </Group>
      <Text size="xs" c="dimmed">
        A revoked token is refused at the proxy within 300 ms.
      </Text>
    </Page>
  )
}
