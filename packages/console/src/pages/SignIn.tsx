import { Anchor, Button, Center, Paper, PasswordInput, PinInput, Stack, Text, TextInput, Title } from "@mantine/core"
import { type FormEvent, useState } from "react"
import { api, type Me } from "../api.js"
import { ErrorAlert, useAction } from "../common.js"
import { navigate } from "../route.js"

const Card = ({ title, children }: { readonly title: string; readonly children: React.ReactNode }) => (
  <Center mih="100vh" bg="gray.0">
    <Paper withBorder shadow="sm" p="xl" w={400} radius="md">
      <Stack>
        <Title order={2}>{title}</Title>
        {children}
      </Stack>
    </Paper>
  </Center>
)

/** E-mail and password, then (when the operator has TOTP) the 6-digit code or a recovery code. */
export const SignIn = ({ onSignedIn }: { readonly onSignedIn: (me: Me) => void }) => {
  const [email, setEmail] = useState("")
  const [password, setPassword] = useState("")
  const [challenge, setChallenge] = useState<string | undefined>(undefined)
  const [code, setCode] = useState("")
  const [recovery, setRecovery] = useState<string | undefined>(undefined)
  const action = useAction()

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const answer = await action.run(() => api.signIn(email, password))
    if (answer === undefined) return
    if (answer.status === "mfa_required") setChallenge(answer.challenge)
    else onSignedIn(answer)
  }
  const verify = async (value: { code: string } | { recovery_code: string }) => {
    if (challenge === undefined) return
    const answer = await action.run(() => api.verifyMfa(challenge, value))
    if (answer?.status === "signed_in") onSignedIn(answer)
  }

  if (challenge !== undefined)
    return (
      <Card title="Two-step verification">
        <Text size="sm">
          {recovery === undefined
            ? "Enter the 6-digit code from your authenticator app."
            : "Enter one of your recovery codes (each works once)."}
        </Text>
        <ErrorAlert error={action.error} />
        {recovery === undefined ? (
          <form
            onSubmit={(e) => {
              e.preventDefault()
              void verify({ code })
            }}
          >
            <Stack>
              <PinInput
                length={6}
                type="number"
                oneTimeCode
                autoFocus
                value={code}
                onChange={setCode}
                aria-label="Authentication code"
                data-testid="mfa-code"
              />
              <Button type="submit" loading={action.busy} disabled={code.length !== 6} data-testid="mfa-submit">
                Verify
              </Button>
            </Stack>
          </form>
        ) : (
          <form
            onSubmit={(e) => {
              e.preventDefault()
              void verify({ recovery_code: recovery.trim() })
            }}
          >
            <Stack>
              <TextInput
                label="Recovery code"
                value={recovery}
                onChange={(e) => setRecovery(e.currentTarget.value)}
                placeholder="xxxx-xxxx-xxxx"
              />
              <Button type="submit" loading={action.busy}>
                Verify
              </Button>
            </Stack>
          </form>
        )}
        <Anchor
          size="sm"
          component="button"
          type="button"
          onClick={() => setRecovery(recovery === undefined ? "" : undefined)}
        >
          {recovery === undefined ? "Use a recovery code instead" : "Use the authenticator code"}
        </Anchor>
        <Anchor
          size="sm"
          component="button"
          type="button"
          onClick={() => {
            setChallenge(undefined)
            setCode("")
            action.clear()
          }}
        >
          Back to sign-in
        </Anchor>
      </Card>
    )

  return (
    <Card title="Sign in to IBEX">
      <form onSubmit={submit}>
        <Stack>
          <ErrorAlert error={action.error} />
          <TextInput
            label="E-mail"
            type="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
            data-testid="signin-email"
          />
          <PasswordInput
            label="Password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            data-testid="signin-password"
          />
          <Button type="submit" loading={action.busy} data-testid="signin-submit">
            Sign in
          </Button>
          <Anchor size="sm" href="#/forgot">
            Forgot your password?
          </Anchor>
        </Stack>
      </form>
    </Card>
  )
}

export const Forgot = () => {
  const [email, setEmail] = useState("")
  const [sent, setSent] = useState(false)
  const action = useAction()
  return (
    <Card title="Reset your password">
      {sent ? (
        <Text size="sm">
          If an account exists for {email}, a reset link is on its way. It works once, for 30 minutes.
        </Text>
      ) : (
        <form
          onSubmit={async (e) => {
            e.preventDefault()
            if ((await action.run(() => api.forgot(email))) !== undefined) setSent(true)
          }}
        >
          <Stack>
            <ErrorAlert error={action.error} />
            <TextInput
              label="E-mail"
              type="email"
              required
              value={email}
              onChange={(e) => setEmail(e.currentTarget.value)}
            />
            <Button type="submit" loading={action.busy}>
              Send a reset link
            </Button>
          </Stack>
        </form>
      )}
      <Anchor size="sm" href="#/">
        Back to sign-in
      </Anchor>
    </Card>
  )
}

export const Reset = ({ token }: { readonly token: string }) => {
  const [password, setPassword] = useState("")
  const [done, setDone] = useState(false)
  const action = useAction()
  return (
    <Card title="Choose a new password">
      {done ? (
        <Text size="sm">Your password is changed and every session is signed out. Sign in with the new password.</Text>
      ) : (
        <form
          onSubmit={async (e) => {
            e.preventDefault()
            await action.run(() => api.reset(token, password))
            setDone(true)
          }}
        >
          <Stack>
            <ErrorAlert error={action.error} />
            <PasswordInput
              label="New password (12 characters or more)"
              required
              minLength={12}
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
            />
            <Button type="submit" loading={action.busy}>
              Set the password
            </Button>
          </Stack>
        </form>
      )}
      <Anchor size="sm" href="#/">
        Back to sign-in
      </Anchor>
    </Card>
  )
}

export const SignUp = ({
  invitation,
  onSignedIn
}: {
  readonly invitation: string
  readonly onSignedIn: (me: Me) => void
}) => {
  const [name, setName] = useState("")
  const [password, setPassword] = useState("")
  const action = useAction()
  return (
    <Card title="Accept your invitation">
      <form
        onSubmit={async (e) => {
          e.preventDefault()
          const answer = await action.run(() => api.signUp(invitation, password, name))
          if (answer?.status === "signed_in") {
            onSignedIn(answer)
            navigate("/")
          }
        }}
      >
        <Stack>
          <ErrorAlert error={action.error} />
          <TextInput label="Your name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <PasswordInput
            label="Password (12 characters or more; your current one if you already have an account)"
            required
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
          />
          <Button type="submit" loading={action.busy}>
            Join
          </Button>
        </Stack>
      </form>
    </Card>
  )
}
