import { Counter, Histogram, type Registry } from "prom-client"

/**
 * The metrics every request updates, counted as plain numbers and handed to prom-client only
 * when the registry is read. prom-client validates and hashes a label object on every update
 * (about 1 µs each, four updates a request: 3 % of the edge's CPU); here an update is a few map
 * lookups on values the edge already holds. The exposition is prom-client's own, unchanged.
 */

type RequestLabel = "method" | "route" | "status"

interface RequestSeries {
  readonly labels: Record<RequestLabel, string>
  count: number
  sum: number
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  readonly buckets: Float64Array
  /** Requests counted since the counter last read them. */
  unread: number
}

/** What the registry reads from a metric (prom-client's own `getForPromString` result). */
interface Exposition {
  readonly name: string
  readonly help: string
  readonly type: "histogram"
  readonly aggregator: "sum"
  readonly values: Array<{
    readonly labels: Record<string, string | number>
    readonly value: number
    readonly metricName: string
  }>
}

/**
 * A latency histogram whose series live in `RequestMetrics`. It registers as a Histogram and
 * answers the registry from those series: the registry's text exposition reads
 * `getForPromString`, and prom-client's own `get` (the JSON form) is built on it.
 */
class SeriesHistogram extends Histogram<RequestLabel> {
  constructor(
    private readonly metric: { readonly name: string; readonly help: string },
    private readonly bounds: ReadonlyArray<number>,
    private readonly series: ReadonlyArray<RequestSeries>
  ) {
    super({ ...metric, labelNames: ["method", "route", "status"], buckets: [...bounds], registers: [] })
  }

  async getForPromString(): Promise<Exposition> {
    const { name, help } = this.metric
    const values: Exposition["values"] = []
    const bucketName = `${name}_bucket`
    const bucket = (labels: Record<string, string | number>, value: number) =>
      values.push({ labels, value, metricName: bucketName })
    for (const s of this.series) {
      let cumulative = 0
      this.bounds.forEach((le, i) => {
        cumulative += s.buckets[i] ?? 0
        bucket({ le, ...s.labels }, cumulative)
      })
      bucket({ le: "+Inf", ...s.labels }, s.count)
      values.push({ labels: s.labels, value: s.sum, metricName: `${name}_sum` })
      values.push({ labels: s.labels, value: s.count, metricName: `${name}_count` })
    }
    return { name, help, type: "histogram", values, aggregator: "sum" }
  }
}

/** A counter with one label whose increments wait in plain numbers until the registry reads it. */
const batchedCounter = <L extends string>(registry: Registry, name: string, help: string, label: L) => {
  const unread = new Map<string, number>()
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      for (const [value, n] of unread) if (n > 0) this.inc({ [label]: value } as Record<L, string>, n)
      unread.clear()
    }
  })
  return (value: string): void => {
    unread.set(value, (unread.get(value) ?? 0) + 1)
  }
}

const knownMethods = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])

export interface RequestMetrics {
  readonly observeRequest: (method: string, route: string, status: number, seconds: number) => void
  readonly authOutcome: (outcome: string) => void
  readonly rateLimitDecision: (decision: "allowed" | "denied" | "fail_open") => void
}

export const makeRequestMetrics = (registry: Registry): RequestMetrics => {
  const bounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
  // method → route template → status: every key comes from a closed set (see Metrics.ts).
  const byMethod = new Map<string, Map<string, Map<number, RequestSeries>>>()
  const all: Array<RequestSeries> = []

  const seriesFor = (method: string, route: string, status: number): RequestSeries => {
    let byRoute = byMethod.get(method)
    if (byRoute === undefined) {
      byRoute = new Map()
      byMethod.set(method, byRoute)
    }
    let byStatus = byRoute.get(route)
    if (byStatus === undefined) {
      byStatus = new Map()
      byRoute.set(route, byStatus)
    }
    let series = byStatus.get(status)
    if (series === undefined) {
      series = {
        labels: { method, route, status: String(status) },
        count: 0,
        sum: 0,
        buckets: new Float64Array(bounds.length + 1),
        unread: 0
      }
      byStatus.set(status, series)
      all.push(series)
    }
    return series
  }

  new Counter({
    name: "ibex_proxy_http_requests_total",
    help: "HTTP requests by method, route template and status.",
    labelNames: ["method", "route", "status"],
    registers: [registry],
    collect() {
      for (const s of all)
        if (s.unread > 0) {
          this.inc(s.labels, s.unread)
          s.unread = 0
        }
    }
  })
  registry.registerMetric(
    new SeriesHistogram(
      {
        name: "ibex_proxy_http_request_duration_seconds",
        help: "HTTP request latency by method, route template and status."
      },
      bounds,
      all
    )
  )

  return {
    observeRequest: (method, route, status, seconds) => {
      const s = seriesFor(knownMethods.has(method) ? method : "OTHER", route, status)
      s.count++
      s.unread++
      s.sum += seconds
      let i = 0
      while (i < bounds.length && seconds > (bounds[i] as number)) i++
      s.buckets[i] = (s.buckets[i] ?? 0) + 1
    },
    authOutcome: batchedCounter(
      registry,
      "ibex_proxy_auth_outcomes_total",
      "Outcomes of the protected-route chain: ok, or the error code that stopped it.",
      "outcome"
    ),
    rateLimitDecision: batchedCounter(
      registry,
      "ibex_proxy_ratelimit_decisions_total",
      "Rate-limit decisions: allowed, denied, or fail_open when the limiter was unavailable.",
      "decision"
    )
  }
}
