// The HTTP load generator, run in its own process: autocannon (keep-alive, fixed connection
// count, bounded by duration or request count), with every response's latency recorded at
// full precision (autocannon's own histogram rounds to whole milliseconds).
// Usage: node bench/loadgen.mjs '<json spec>'  → one JSON line on stdout.
//   spec: { targets: [{ url, method?, headers?, body? }], connections, durationSec?, amount?, warmupSec? }
//   Several targets run at once (connections and amount are per target); results are merged.
import autocannon from "autocannon"

const spec = JSON.parse(process.argv[2] ?? "{}")
const targets = spec.targets ?? []
if (targets.length === 0) throw new Error("loadgen: no targets")

const runOne = (target, options, record) =>
  new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        method: target.method ?? "GET",
        headers: target.headers ?? {},
        ...(target.body === undefined ? {} : { body: target.body }),
        connections: options.connections,
        pipelining: 1,
        timeout: 10,
        ...(options.amount === undefined ? { duration: options.durationSec } : { amount: options.amount })
      },
      (error, result) => (error ? reject(error) : resolve(result))
    )
    if (record) instance.on("response", (_client, statusCode, _bytes, ms) => record(statusCode, ms))
  })

const quantile = (sorted, q) =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
const round = (x, d = 3) => (x === null ? null : Number(x.toFixed(d)))

const warmupSec = spec.warmupSec ?? 0
if (warmupSec > 0)
  await Promise.all(targets.map((t) => runOne(t, { connections: spec.connections, durationSec: warmupSec })))

let latencies = new Float64Array(1 << 16)
let count = 0
const statuses = {}
const record = (statusCode, ms) => {
  if (count === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2)
    bigger.set(latencies)
    latencies = bigger
  }
  latencies[count++] = ms
  statuses[statusCode] = (statuses[statusCode] ?? 0) + 1
}
const started = performance.now()
const results = await Promise.all(
  targets.map((t) =>
    runOne(t, { connections: spec.connections, durationSec: spec.durationSec, amount: spec.amount }, record)
  )
)
const elapsedSec = (performance.now() - started) / 1000
const sorted = latencies.subarray(0, count).sort()
console.log(
  JSON.stringify({
    generator: "autocannon",
    connections: spec.connections * targets.length,
    elapsedSec: round(elapsedSec),
    requests: count,
    rps: Math.round(count / elapsedSec),
    p50: round(quantile(sorted, 0.5)),
    p90: round(quantile(sorted, 0.9)),
    p99: round(quantile(sorted, 0.99)),
    max: round(count === 0 ? null : sorted[count - 1]),
    statuses,
    errors: results.reduce((n, r) => n + r.errors, 0),
    timeouts: results.reduce((n, r) => n + r.timeouts, 0)
  })
)
