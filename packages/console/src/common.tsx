import { Alert, Badge, Button, Group, Loader, Stack, Text, Title } from "@mantine/core"
import { type DependencyList, type ReactNode, useCallback, useEffect, useState } from "react"
import { ApiError } from "./api.js"

export interface Loaded<A> {
  readonly data: A | undefined
  readonly error: unknown
  readonly loading: boolean
  readonly reload: () => void
}

/** Loads once per change of `deps`; `reload()` loads again (after a mutation). */
export const useLoad = <A,>(load: () => Promise<A>, deps: DependencyList): Loaded<A> => {
  const [state, setState] = useState<{ data: A | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true
  })
  const [tick, setTick] = useState(0)
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller's deps decide
  useEffect(() => {
    let live = true
    setState((s) => ({ ...s, loading: true }))
    load().then(
      (data) => live && setState({ data, error: undefined, loading: false }),
      (error: unknown) => live && setState({ data: undefined, error, loading: false })
    )
    return () => {
      live = false
    }
  }, [...deps, tick])
  const reload = useCallback(() => setTick((t) => t + 1), [])
  return { ...state, reload }
}

/** Runs a mutation, keeping its error for display. */
export const useAction = () => {
  const [error, setError] = useState<unknown>(undefined)
  const [busy, setBusy] = useState(false)
  const run = useCallback(async <A,>(f: () => Promise<A>): Promise<A | undefined> => {
    setBusy(true)
    setError(undefined)
    try {
      return await f()
    } catch (e) {
      setError(e)
      return undefined
    } finally {
      setBusy(false)
    }
  }, [])
  return { error, busy, run, clear: () => setError(undefined) }
}

const describe = (error: unknown): { title: string; message: string } => {
  if (error instanceof ApiError) {
    if (error.code === "ORG_ACCESS_DENIED") return { title: "No access to this organization", message: error.message }
    if (error.code === "ACTION_DENIED") return { title: "Your role does not allow this", message: error.message }
    const fields = error.fieldErrors.map((f) => `${f.field}: ${f.message}`).join("; ")
    return { title: error.code, message: fields === "" ? error.message : `${error.message} (${fields})` }
  }
  return { title: "Request failed", message: error instanceof Error ? error.message : String(error) }
}

export const ErrorAlert = ({ error }: { readonly error: unknown }) => {
  if (error === undefined || error === null) return null
  const { title, message } = describe(error)
  const code = error instanceof ApiError ? error.code : "ERROR"
  return (
    <Alert color="red" title={title} data-testid="error" data-code={code}>
      {message}
    </Alert>
  )
}

export const Page = ({
  title,
  actions,
  children
}: {
  readonly title: string
  readonly actions?: ReactNode
  readonly children: ReactNode
}) => (
  <Stack gap="md">
    <Group justify="space-between">
      <Title order={2}>{title}</Title>
      {actions}
    </Group>
    {children}
  </Stack>
)

export const Loading = ({ loaded }: { readonly loaded: Loaded<unknown> }) =>
  loaded.loading && loaded.data === undefined ? <Loader size="sm" /> : <ErrorAlert error={loaded.error} />

const STATUS_COLORS: Record<string, string> = {
  active: "green",
  paused: "yellow",
  archived: "gray",
  suspended: "red",
  disabled: "red",
  revoked: "red",
  expired: "gray"
}
export const StatusBadge = ({ status }: { readonly status: string }) => (
  <Badge color={STATUS_COLORS[status] ?? "blue"} variant="light" data-testid="status">
    {status}
  </Badge>
)

export const when = (iso: string | null | undefined): string =>
  iso === null || iso === undefined ? "—" : new Date(iso).toISOString().replace("T", " ").slice(0, 19)

export const Empty = ({ children }: { readonly children: ReactNode }) => (
  <Text c="dimmed" size="sm">
    {children}
  </Text>
)

export const Confirm = ({
  label,
  color,
  onConfirm,
  testId
}: {
  readonly label: string
  readonly color?: string
  readonly onConfirm: () => void
  readonly testId?: string
}) => (
  <Button size="xs" variant="light" color={color ?? "blue"} onClick={onConfirm} data-testid={testId}>
    {label}
  </Button>
)
