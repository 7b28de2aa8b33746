import {
  Alert,
  Button,
  Code,
  CopyButton,
  Group,
  List,
  Paper,
  PasswordInput,
  PinInput,
  Stack,
  Text,
  Title
} from "@mantine/core"
import { useState } from "react"
import { api, type Me } from "../api.js"
import { ErrorAlert, Page, useAction } from "../common.js"

/** TOTP enrollment (secret + otpauth URI, confirm with a code, recovery codes shown once) and the password. */
export const Security = ({ me, onChanged }: { readonly me: Me; readonly onChanged: () => void }) => {
  const [enrollment, setEnrollment] = useState<{ secret: string; otpauth_uri: string } | undefined>(undefined)
  const [code, setCode] = useState("")
  const [recoveryCodes, setRecoveryCodes] = useState<ReadonlyArray<string> | undefined>(undefined)
  const [disableCode, setDisableCode] = useState("")
  const [current, setCurrent] = useState("")
  const [next, setNext] = useState("")
  const [passwordChanged, setPasswordChanged] = useState(false)
  const mfa = useAction()
  const pw = useAction()

  return (
    <Page title="Security">
      <Paper withBorder p="md">
        <Stack>
          <Title order={4}>Two-step verification (TOTP)</Title>
          <ErrorAlert error={mfa.error} />
          {recoveryCodes !== undefined ? (
            <Stack data-testid="recovery-codes">
              <Alert color="green" title="Two-step verification is on">
                Save these recovery codes somewhere safe. They are shown this once; each works once if you lose your
                authenticator.
              </Alert>
              <List spacing={4}>
                {recoveryCodes.map((c) => (
                  <List.Item key={c}>
                    <Code>{c}</Code>
                  </List.Item>
                ))}
              </List>
              <Group>
                <CopyButton value={recoveryCodes.join("\n")}>
                  {({ copied, copy }) => (
                    <Button variant="light" onClick={copy}>
                      {copied ? "Copied" : "Copy the codes"}
                    </Button>
                  )}
                </CopyButton>
                <Button
                  onClick={() => {
                    setRecoveryCodes(undefined)
                    onChanged()
                  }}
                  data-testid="recovery-done"
                >
                  I saved them
                </Button>
              </Group>
            </Stack>
          ) : me.operator.mfa_enabled ? (
            <Stack>
              <Text size="sm" data-testid="mfa-status">
                Two-step verification is on. Every sign-in asks for a code from your authenticator app.
              </Text>
              <Group align="end">
                <PinInput
                  length={6}
                  type="number"
                  value={disableCode}
                  onChange={setDisableCode}
                  aria-label="Code to turn off"
                />
                <Button
                  color="red"
                  variant="light"
                  disabled={disableCode.length !== 6}
                  loading={mfa.busy}
                  onClick={async () => {
                    if ((await mfa.run(() => api.disableMfa(disableCode).then(() => true))) === true) onChanged()
                  }}
                >
                  Turn off
                </Button>
              </Group>
            </Stack>
          ) : enrollment === undefined ? (
            <Stack align="start">
              <Text size="sm" data-testid="mfa-status">
                Two-step verification is off. Turn it on to require a code from an authenticator app at every sign-in.
              </Text>
              <Button
                loading={mfa.busy}
                onClick={async () => setEnrollment(await mfa.run(() => api.enrollMfa()))}
                data-testid="mfa-enroll"
              >
                Set up an authenticator app
              </Button>
            </Stack>
          ) : (
            <Stack>
              <Text size="sm">
                Add this account to your authenticator app (scan the URI as a QR code, or type the secret), then enter
                the 6-digit code it shows.
              </Text>
              <Text size="sm" fw={500}>
                Secret
              </Text>
              <Group>
                <Code data-testid="mfa-secret">{enrollment.secret}</Code>
                <CopyButton value={enrollment.secret}>
                  {({ copied, copy }) => (
                    <Button size="xs" variant="light" onClick={copy}>
                      {copied ? "Copied" : "Copy"}
                    </Button>
                  )}
                </CopyButton>
              </Group>
              <Text size="sm" fw={500}>
                otpauth URI
              </Text>
              <Code block data-testid="mfa-uri">
                {enrollment.otpauth_uri}
              </Code>
              <form
                onSubmit={async (e) => {
                  e.preventDefault()
                  const answer = await mfa.run(() => api.confirmMfa(code))
                  if (answer !== undefined) {
                    setEnrollment(undefined)
                    setRecoveryCodes(answer.recovery_codes)
                  }
                }}
              >
                <Group align="end">
                  <PinInput
                    length={6}
                    type="number"
                    value={code}
                    onChange={setCode}
                    aria-label="Code"
                    data-testid="mfa-confirm-code"
                  />
                  <Button type="submit" disabled={code.length !== 6} loading={mfa.busy} data-testid="mfa-confirm">
                    Confirm
                  </Button>
                </Group>
              </form>
            </Stack>
          )}
        </Stack>
      </Paper>
      <Paper withBorder p="md">
        <form
          onSubmit={async (e) => {
            e.preventDefault()
            if ((await pw.run(() => api.changePassword(current, next).then(() => true))) === true) {
              setPasswordChanged(true)
              setCurrent("")
              setNext("")
            }
          }}
        >
          <Stack maw={400}>
            <Title order={4}>Password</Title>
            <ErrorAlert error={pw.error} />
            {passwordChanged && <Alert color="green">Password changed; your other sessions are signed out.</Alert>}
            <PasswordInput
              label="Current password"
              required
              value={current}
              onChange={(e) => setCurrent(e.currentTarget.value)}
            />
            <PasswordInput
              label="New password (12 characters or more)"
              required
              value={next}
              onChange={(e) => setNext(e.currentTarget.value)}
            />
            <Button type="submit" loading={pw.busy}>
              Change the password
            </Button>
          </Stack>
        </form>
      </Paper>
    </Page>
  )
}
