import { BarChart } from "@mantine/charts"
import {
  Button,
  Group,
  NumberInput,
  Paper,
  Progress,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Text,
  Title
} from "@mantine/core"
import { useState } from "react"
import { api, type Budget, can, type Me } from "../api.js"
import { Empty, ErrorAlert, Loading, Page, useAction, useLoad } from "../common.js"

const DAY = 86_400_000
const usd = (micro: number) => `$${(micro / 1_000_000).toFixed(micro < 10_000_000 ? 4 : 2)}`

const BudgetCard = ({ me, org }: { readonly me: Me; readonly org: string }) => {
  const budget = useLoad(() => api.budget(org), [org])
  const writable = can(me, org, "budget:write")
  const [tpm, setTpm] = useState<number | string>("")
  const [monthly, setMonthly] = useState<number | string>("")
  const action = useAction()
  const b: Budget | undefined = budget.data
  const share = b?.monthly_budget_micro_usd
    ? Math.min(100, (100 * b.month_spend_micro_usd) / b.monthly_budget_micro_usd)
    : 0
  return (
    <Paper withBorder p="md" data-testid="budget">
      <Stack>
        <Title order={4}>Budget</Title>
        <Loading loaded={budget} />
        <ErrorAlert error={action.error} />
        {b && (
          <>
            <Text size="sm">
              This month (since {b.month_start.slice(0, 10)}): <b>{usd(b.month_spend_micro_usd)}</b>
              {b.monthly_budget_micro_usd === null ? " — no monthly budget" : ` of ${usd(b.monthly_budget_micro_usd)}`}
            </Text>
            {b.monthly_budget_micro_usd !== null && <Progress value={share} color={share > 90 ? "red" : "indigo"} />}
            <Text size="sm">
              Tokens per minute: <b>{b.tokens_per_minute ?? "no limit"}</b>
            </Text>
          </>
        )}
        {writable && b && (
          <form
            onSubmit={async (e) => {
              e.preventDefault()
              const answer = await action.run(() =>
                api.setBudget(
                  org,
                  typeof tpm === "number" ? tpm : null,
                  typeof monthly === "number" ? Math.round(monthly * 1_000_000) : null
                )
              )
              if (answer !== undefined) budget.reload()
            }}
          >
            <Group align="end">
              <NumberInput
                label="Tokens per minute"
                description="empty: no limit"
                min={1}
                value={tpm}
                onChange={setTpm}
                w={220}
              />
              <NumberInput
                label="Monthly budget (USD)"
                description="empty: no budget"
                min={0}
                decimalScale={2}
                value={monthly}
                onChange={setMonthly}
                w={220}
              />
              <Button type="submit" loading={action.busy}>
                Save
              </Button>
            </Group>
          </form>
        )}
      </Stack>
    </Paper>
  )
}

/** Usage charts (per day, per model or agent) over the last 7 or 30 days, and the budget. */
export const UsagePage = ({ me, org }: { readonly me: Me; readonly org: string }) => {
  const [days, setDays] = useState("30")
  const [groupBy, setGroupBy] = useState<"model" | "agent" | "provider">("model")
  const until = new Date(Math.ceil(Date.now() / DAY) * DAY).toISOString()
  const since = new Date(Date.parse(until) - Number(days) * DAY).toISOString()
  const perDay = useLoad(() => api.usage(org, since, until, "day"), [org, since])
  const grouped = useLoad(() => api.usage(org, since, until, groupBy), [org, since, groupBy])

  return (
    <Page
      title="Usage"
      actions={
        <SegmentedControl
          value={days}
          onChange={setDays}
          data={[
            { value: "7", label: "7 days" },
            { value: "30", label: "30 days" }
          ]}
        />
      }
    >
      {can(me, org, "budget:read") && <BudgetCard me={me} org={org} />}
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Paper withBorder p="md" data-testid="usage-per-day">
          <Title order={4} mb="sm">
            Tokens per day
          </Title>
          <Loading loaded={perDay} />
          {perDay.data && perDay.data.rows.length === 0 && <Empty>No usage in this period.</Empty>}
          {perDay.data && perDay.data.rows.length > 0 && (
            <BarChart
              h={260}
              data={perDay.data.rows.map((r) => ({
                day: r.key.slice(0, 10),
                prompt: r.prompt_tokens,
                completion: r.completion_tokens
              }))}
              dataKey="day"
              type="stacked"
              series={[
                { name: "prompt", color: "indigo.6" },
                { name: "completion", color: "teal.6" }
              ]}
            />
          )}
        </Paper>
        <Paper withBorder p="md" data-testid="usage-grouped">
          <Group justify="space-between" mb="sm">
            <Title order={4}>Requests and cost by {groupBy}</Title>
            <SegmentedControl
              size="xs"
              value={groupBy}
              onChange={(v) => setGroupBy(v as typeof groupBy)}
              data={["model", "agent", "provider"]}
            />
          </Group>
          <Loading loaded={grouped} />
          {grouped.data && grouped.data.rows.length === 0 && <Empty>No usage in this period.</Empty>}
          {grouped.data && grouped.data.rows.length > 0 && (
            <BarChart
              h={260}
              data={grouped.data.rows.map((r) => ({
                key: r.key.length > 14 ? `${r.key.slice(0, 12)}…` : r.key,
                requests: r.requests,
                tokens: r.total_tokens
              }))}
              dataKey="key"
              withLegend
              series={[
                { name: "requests", color: "indigo.6" },
                { name: "tokens", color: "teal.6" }
              ]}
            />
          )}
          {grouped.data && grouped.data.rows.length > 0 && (
            <Text size="xs" c="dimmed" mt="xs">
              Cost: {grouped.data.rows.map((r) => `${r.key.slice(0, 14)} ${usd(r.cost_micro_usd)}`).join(" · ")}
            </Text>
          )}
        </Paper>
      </SimpleGrid>
    </Page>
  )
}
