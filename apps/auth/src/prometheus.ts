import { type MetricPair, MetricState, Option } from "effect"

/**
 * Effect's metric registry (`Metric.snapshot`) as Prometheus text exposition (format 0.0.4):
 * counters, gauges, histograms (cumulative buckets with `le`, `_sum`, `_count`) and summaries.
 * Frequency metrics are left out: their keys are arbitrary observed strings, and no label may
 * carry free text. Series of one name are grouped under one HELP / TYPE.
 */
const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/

const escapeHelp = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
const escapeLabel = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

const formatValue = (n: number | bigint): string => {
  if (typeof n === "bigint") return n.toString()
  if (Number.isNaN(n)) return "NaN"
  if (n === Number.POSITIVE_INFINITY) return "+Inf"
  if (n === Number.NEGATIVE_INFINITY) return "-Inf"
  return String(n)
}

const labels = (pairs: ReadonlyArray<readonly [string, string]>): string =>
  pairs.length === 0 ? "" : `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`

interface Family {
  type: "counter" | "gauge" | "histogram" | "summary"
  help: string | undefined
  lines: Array<string>
}

export const renderEffectMetrics = (snapshot: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  const family = (name: string, type: Family["type"], help: Option.Option<string>): Family | undefined => {
    const existing = families.get(name)
    if (existing !== undefined) return existing.type === type ? existing : undefined
    const created: Family = { type, help: Option.getOrUndefined(help), lines: [] }
    families.set(name, created)
    return created
  }
  for (const { metricKey, metricState } of snapshot) {
    const name = metricKey.name
    if (!metricName.test(name)) continue
    const tags = metricKey.tags
      .filter((t) => labelName.test(t.key) && t.key !== "le" && t.key !== "quantile")
      .map((t) => [t.key, t.value] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    if (MetricState.isCounterState(metricState)) {
      family(name, "counter", metricKey.description)?.lines.push(
        `${name}${labels(tags)} ${formatValue(metricState.count)}`
      )
    } else if (MetricState.isGaugeState(metricState)) {
      family(name, "gauge", metricKey.description)?.lines.push(
        `${name}${labels(tags)} ${formatValue(metricState.value)}`
      )
    } else if (MetricState.isHistogramState(metricState)) {
      const f = family(name, "histogram", metricKey.description)
      if (f === undefined) continue
      let sawInf = false
      for (const [boundary, cumulative] of metricState.buckets) {
        if (boundary === Number.POSITIVE_INFINITY) sawInf = true
        f.lines.push(`${name}_bucket${labels([...tags, ["le", formatValue(boundary)]])} ${formatValue(cumulative)}`)
      }
      if (!sawInf) f.lines.push(`${name}_bucket${labels([...tags, ["le", "+Inf"]])} ${formatValue(metricState.count)}`)
      f.lines.push(`${name}_sum${labels(tags)} ${formatValue(metricState.sum)}`)
      f.lines.push(`${name}_count${labels(tags)} ${formatValue(metricState.count)}`)
    } else if (MetricState.isSummaryState(metricState)) {
      const f = family(name, "summary", metricKey.description)
      if (f === undefined) continue
      for (const [quantile, value] of metricState.quantiles)
        f.lines.push(
          `${name}${labels([...tags, ["quantile", formatValue(quantile)]])} ${formatValue(Option.getOrElse(value, () => Number.NaN))}`
        )
      f.lines.push(`${name}_sum${labels(tags)} ${formatValue(metricState.sum)}`)
      f.lines.push(`${name}_count${labels(tags)} ${formatValue(metricState.count)}`)
    }
  }
  let out = ""
  for (const [name, f] of [...families].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (f.help !== undefined) out += `# HELP ${name} ${escapeHelp(f.help)}\n`
    out += `# TYPE ${name} ${f.type}\n`
    for (const line of f.lines) out += `${line}\n`
  }
  return out
}
