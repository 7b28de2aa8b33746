import {
  Alert,
  Anchor,
  AppShell,
  Badge,
  Button,
  Center,
  Group,
  Loader,
  NavLink,
  Select,
  Stack,
  Text,
  Title
} from "@mantine/core"
import { useCallback, useEffect, useMemo, useRef, useState } from "react"
import { ApiError, api, can, type Me, refreshSession, setSignedOutHandler } from "./api.js"
import { ErrorAlert, useLoad } from "./common.js"
import { Agents } from "./pages/Agents.js"
import { Audit } from "./pages/Audit.js"
import { Operators } from "./pages/Operators.js"
import { Orgs } from "./pages/Orgs.js"
import { Roles } from "./pages/Roles.js"
import { Security } from "./pages/Security.js"
import { Forgot, Reset, SignIn, SignUp } from "./pages/SignIn.js"
import { Tokens } from "./pages/Tokens.js"
import { UsagePage } from "./pages/Usage.js"
import { Users } from "./pages/Users.js"
import { navigate, orgPath, useRoute } from "./route.js"

type Session =
  | { readonly state: "loading" }
  | { readonly state: "signed_out" }
  | { readonly state: "signed_in"; readonly me: Me }

/** The org-scoped pages, each shown only to a role holding its right. */
const ORG_PAGES = [
  { page: "agents", label: "Agents", right: "agents:read" },
  { page: "tokens", label: "Tokens", right: "tokens:read" },
  { page: "users", label: "Users & invitations", right: "users:read" },
  { page: "roles", label: "Roles & assignments", right: "orgs:read" },
  { page: "usage", label: "Usage & budget", right: "usage:read" },
  { page: "audit", label: "Audit log", right: "audit:read" }
] as const

export const App = () => {
  const [session, setSession] = useState<Session>({ state: "loading" })
  const route = useRoute()

  // Bumped at every sign-in and sign-out: a /me answer that started before is stale and dropped
  // (a slow /me must not sign the operator back in after sign-out).
  const generation = useRef(0)
  const setIfCurrent = useCallback((started: number, next: Session) => {
    if (generation.current === started) setSession(next)
  }, [])
  const signedIn = useCallback((me: Me) => {
    generation.current++
    setSession({ state: "signed_in", me })
  }, [])
  const signedOut = useCallback(() => {
    generation.current++
    setSession({ state: "signed_out" })
  }, [])
  useEffect(() => setSignedOutHandler(signedOut), [signedOut])

  const loadMe = useCallback(async () => {
    const started = generation.current
    try {
      setIfCurrent(started, { state: "signed_in", me: await api.me() })
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        const me = await refreshSession()
        setIfCurrent(started, me === undefined ? { state: "signed_out" } : { state: "signed_in", me })
      } else setIfCurrent(started, { state: "signed_out" })
    }
  }, [setIfCurrent])
  useEffect(() => {
    void loadMe()
  }, [loadMe])

  const first = route.path[0]
  if (first === "reset") return <Reset token={route.params.get("token") ?? ""} />
  if (first === "forgot") return <Forgot />
  if (first === "signup") return <SignUp invitation={route.params.get("invitation") ?? ""} onSignedIn={signedIn} />
  if (session.state === "loading")
    return (
      <Center mih="100vh">
        <Loader />
      </Center>
    )
  if (session.state === "signed_out") return <SignIn onSignedIn={signedIn} />
  return (
    <Shell
      me={session.me}
      reloadMe={loadMe}
      onSignOut={async () => {
        generation.current++ // drops any /me still in flight
        await api.signOut().catch(() => {})
        signedOut()
        navigate("/")
      }}
    />
  )
}

interface OrgChoice {
  readonly id: string
  readonly name: string
}

const Shell = ({
  me,
  reloadMe,
  onSignOut
}: {
  readonly me: Me
  readonly reloadMe: () => Promise<void>
  readonly onSignOut: () => void
}) => {
  const route = useRoute()
  const admin = me.operator.platform_admin
  // The switcher lists the orgs the operator may act in: its memberships (a platform admin: every org).
  const allOrgs = useLoad(() => (admin ? api.orgs() : Promise.resolve({ orgs: [] })), [admin, me])
  const choices: ReadonlyArray<OrgChoice> = useMemo(() => {
    if (admin && allOrgs.data) return allOrgs.data.orgs.map((o) => ({ id: o.id, name: o.name }))
    return me.memberships.map((m) => ({ id: m.org_id, name: m.org_name }))
  }, [admin, allOrgs.data, me])

  const [section, orgInPath, page] = route.path
  const org = section === "o" ? orgInPath : undefined
  const remembered = window.localStorage.getItem("ibex.org") ?? undefined
  const fallbackOrg = choices.find((c) => c.id === remembered)?.id ?? choices[0]?.id

  useEffect(() => {
    if (org !== undefined && choices.some((c) => c.id === org)) window.localStorage.setItem("ibex.org", org)
  }, [org, choices])
  // The landing page: the first org's agents (a platform admin with no org yet: the org list).
  // biome-ignore lint/correctness/useExhaustiveDependencies: reruns on a route change (the hash is read directly)
  useEffect(() => {
    // Read the hash itself: a click may have changed it before its hashchange event reached `route`.
    if (/^#?\/?$/.test(window.location.hash)) {
      if (fallbackOrg !== undefined) navigate(orgPath(fallbackOrg, "agents"))
      else if (admin && allOrgs.data) navigate("/orgs")
    }
  }, [section, fallbackOrg, admin, allOrgs.data])

  const currentOrg = org ?? fallbackOrg
  const orgPage = ORG_PAGES.find((p) => p.page === page)

  let content: React.ReactNode
  if (section === "orgs") content = admin ? <Orgs onChanged={allOrgs.reload} /> : <Denied />
  else if (section === "operators")
    content = can(me, undefined, "operators:manage") ? <Operators me={me} /> : <Denied />
  else if (section === "security") content = <Security me={me} onChanged={() => void reloadMe()} />
  else if (section === "o" && org !== undefined && orgPage !== undefined) {
    if (!can(me, org, orgPage.right)) content = <OrgGate org={org} />
    else
      content = (
        <OrgGate org={org}>
          {page === "agents" && <Agents me={me} org={org} />}
          {page === "tokens" && <Tokens me={me} org={org} />}
          {page === "users" && <Users me={me} org={org} />}
          {page === "roles" && <Roles me={me} org={org} />}
          {page === "usage" && <UsagePage me={me} org={org} />}
          {page === "audit" && <Audit me={me} org={org} />}
        </OrgGate>
      )
  } else content = <Loader size="sm" />

  return (
    <AppShell header={{ height: 60 }} navbar={{ width: 240, breakpoint: "sm" }} padding="lg">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group>
            <Title order={3}>IBEX Console</Title>
            <Select
              aria-label="Organization"
              placeholder="Organization"
              data-testid="org-switcher"
              w={240}
              data={choices.map((c) => ({ value: c.id, label: c.name }))}
              value={currentOrg && choices.some((c) => c.id === currentOrg) ? currentOrg : null}
              allowDeselect={false}
              onChange={(id) => id && navigate(orgPath(id, orgPage?.page ?? "agents"))}
            />
          </Group>
          <Group>
            {admin && <Badge color="grape">platform admin</Badge>}
            <Text size="sm" data-testid="signed-in-as">
              {me.operator.email}
            </Text>
            <Button variant="default" size="xs" onClick={onSignOut} data-testid="signout">
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="sm">
        <Stack gap={2}>
          {admin && <NavLink href="#/orgs" label="Organizations" active={section === "orgs"} />}
          {can(me, undefined, "operators:manage") && (
            <NavLink href="#/operators" label="Operators" active={section === "operators"} />
          )}
          {currentOrg !== undefined &&
            ORG_PAGES.filter((p) => can(me, currentOrg, p.right)).map((p) => (
              <NavLink
                key={p.page}
                href={`#${orgPath(currentOrg, p.page)}`}
                label={p.label}
                active={section === "o" && page === p.page}
                data-testid={`nav-${p.page}`}
              />
            ))}
          <NavLink
            href="#/security"
            label="Security (two-step)"
            active={section === "security"}
            data-testid="nav-security"
          />
        </Stack>
      </AppShell.Navbar>
      <AppShell.Main>
        <Stack>
          {!me.operator.mfa_enabled && section !== "security" && (
            <Alert color="yellow" data-testid="mfa-nudge">
              Two-step verification is off for your account. <Anchor href="#/security">Turn it on</Anchor>.
            </Alert>
          )}
          {content}
        </Stack>
      </AppShell.Main>
    </AppShell>
  )
}

const Denied = () => (
  <Alert color="red" title="Not allowed" data-testid="error" data-code="ACTION_DENIED">
    Your role does not allow this page.
  </Alert>
)

/** Asks the server for the org first: an org the operator has no role in is refused there (403). */
const OrgGate = ({ org, children }: { readonly org: string; readonly children?: React.ReactNode }) => {
  const answer = useLoad(() => api.org(org), [org])
  if (answer.loading && answer.data === undefined) return <Loader size="sm" />
  if (answer.error !== undefined) return <ErrorAlert error={answer.error} />
  if (children === undefined) return <Denied />
  return (
    <Stack>
      {answer.data?.org.status === "disabled" && (
        <Alert color="red">This organization is disabled: its tokens are refused at the proxy.</Alert>
      )}
      {children}
    </Stack>
  )
}
