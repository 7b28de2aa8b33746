// The HTTP load generator, run in its own process: autocannon (keep-alive, fixed connection
// count, bounded by duration or request count), with every response's latency recorded at
// full precision (autocannon's own histogram rounds to whole milliseconds).
// Usage: node bench/loadgen.mjs '<json spec>'  → one JSON line on stdout.
//   spec: { targets: [{ url, method?, headers?, body? }], connections, durationSec?, amount?, warmupSec? }
//   Several targets run at once (connections and amount are per target); results are merged.
//   With `alternate: { sliceSec }`, the targets run one at a time instead, in turns of `sliceSec`
//   (A, B, A, B, … until each has run `durationSec`), and each gets its own result:
//   → { alternate, results: [one result per target] }. Two targets compared this way see the same
//   moments of a machine whose speed drifts within seconds.
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
if (warmupSec > 0 && spec.alternate === undefined)
  await Promise.all(targets.map((t) => runOne(t, { connections: spec.connections, durationSec: warmupSec })))
// Alternating targets warm up one at a time too: none is measured against another's warm-up.
if (warmupSec > 0 && spec.alternate !== undefined)
  for (const t of targets) await runOne(t, { connections: spec.connections, durationSec: warmupSec })

/** Every response's latency and status, and the autocannon runs that produced them. */
const recorder = () => {
  let latencies = new Float64Array(1 << 16)
  let count = 0
  const statuses = {}
  const runs = []
  const record = (statusCode, ms) => {
    if (count === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2)
      bigger.set(latencies)
      latencies = bigger
    }
    latencies[count++] = ms
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1
  }
  const result = (connections, elapsedSec) => {
    const sorted = latencies.subarray(0, count).sort()
    return {
      generator: "autocannon",
      connections,
      elapsedSec: round(elapsedSec),
      requests: count,
      rps: Math.round(count / elapsedSec),
      p50: round(quantile(sorted, 0.5)),
      p90: round(quantile(sorted, 0.9)),
      p99: round(quantile(sorted, 0.99)),
      max: round(count === 0 ? null : sorted[count - 1]),
      statuses,
      errors: runs.reduce((n, r) => n + r.errors, 0),
      timeouts: runs.reduce((n, r) => n + r.timeouts, 0)
    }
  }
  return { record, runs, result }
}

if (spec.alternate === undefined) {
  const all = recorder()
  const started = performance.now()
  all.runs.push(
    ...(await Promise.all(
      targets.map((t) =>
        runOne(t, { connections: spec.connections, durationSec: spec.durationSec, amount: spec.amount }, all.record)
      )
    ))
  )
  console.log(JSON.stringify(all.result(spec.connections * targets.length, (performance.now() - started) / 1000)))
} else {
  const sliceSec = spec.alternate.sliceSec
  const turns = Math.max(1, Math.round(spec.durationSec / sliceSec))
  const each = targets.map(() => ({ ...recorder(), elapsedSec: 0 }))
  for (let turn = 0; turn < turns; turn++)
    for (const [i, target] of targets.entries()) {
      const own = each[i]
      const started = performance.now()
      own.runs.push(await runOne(target, { connections: spec.connections, durationSec: sliceSec }, own.record))
      own.elapsedSec += (performance.now() - started) / 1000
    }
  console.log(
    JSON.stringify({
      alternate: { sliceSec, turns },
      results: each.map((own) => own.result(spec.connections, own.elapsedSec))
    })
  )
}
