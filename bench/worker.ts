// Client-side measurements that are not plain HTTP load, each in this process of its own (never
// inside the services it measures). Usage: node --import tsx bench/worker.ts <command> '<json>'
// → one JSON line on stdout.
//   grpc        ValidateToken (warm: one cached token; cold: distinct never-seen tokens → Argon2id)
//               and VerifyAgent over one reused grpc-js channel, sequential and concurrent.
//   revocation  revoke through one auth instance, probe the proxy (on the other instance) until
//               the first 401; one trial per token.
//   limiter     the Redis GCRA limiter's own cost (EVALSHA through the adapter), on a private key prefix.
//   ttfc        time to first chunk of streaming chat completions: sequential requests, one
//               keep-alive connection per target, the targets interleaved request by request.
//   slowStreams waves of concurrent slow streams held to their end (one keep-alive pool big enough
//               for all of them); per wave: completed (got `data: [DONE]`), failed, and when it ran.
import http from "node:http"
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js"
import { AuthProto, readTlsFiles, type TlsFiles } from "@ibex/auth-adapter-grpc"
import { type OrgId, perMinute } from "@ibex/domain"
import { makeRateLimiterRedis, rateLimitKey } from "@ibex/ratelimit-redis"
import { UsageLedgerEmpty } from "@ibex/testkit/upstream"
import { Effect, Exit, Scope } from "effect"
import { Redis } from "ioredis"

export interface Summary {
  readonly n: number
  readonly p50: number | null
  readonly p99: number | null
  readonly max: number | null
}

export const summarize = (samples: ReadonlyArray<number>): Summary => {
  const sorted = Float64Array.from(samples).sort()
  const q = (p: number) =>
    sorted.length === 0
      ? null
      : Number((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0).toFixed(3))
  return { n: sorted.length, p50: q(0.5), p99: q(0.99), max: q(1) }
}

const unary = <Res>(
  invoke: (metadata: Metadata, options: { deadline: number }, cb: (e: ServiceError | null, r: Res) => void) => void,
  deadlineMs: number,
  metadata: Metadata = new Metadata()
): Promise<{ ms: number; code: number }> =>
  new Promise((resolve) => {
    const t = performance.now()
    invoke(metadata, { deadline: Date.now() + deadlineMs }, (error) =>
      resolve({ ms: performance.now() - t, code: error === null ? 0 : error.code })
    )
  })

/** Runs `one` from `concurrency` loops until `until` (ms, performance clock) or `count` calls in all. */
const loops = async (
  concurrency: number,
  one: () => Promise<{ ms: number; code: number }>,
  stop: { readonly until?: number; readonly count?: number }
) => {
  const samples: Array<number> = []
  let started = 0
  let failures = 0
  const t0 = performance.now()
  const loop = async () => {
    for (;;) {
      if (stop.count !== undefined && started >= stop.count) return
      if (stop.until !== undefined && performance.now() >= stop.until) return
      started++
      const r = await one()
      if (r.code === 0) samples.push(r.ms)
      else failures++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop))
  const elapsedSec = (performance.now() - t0) / 1000
  return { ...summarize(samples), failures, rps: Math.round(samples.length / elapsedSec) }
}

/** A proxy's mutual-TLS channel to auth (the bench runs auth as production does). */
const proxyClient = (target: string, files: TlsFiles) => {
  const tls = readTlsFiles(files)
  return new AuthProto.AuthServiceClient(target, credentials.createSsl(tls.ca, tls.key, tls.cert), {
    "grpc.ssl_target_name_override": "localhost"
  })
}

const grpc = async (spec: {
  target: string
  tls: TlsFiles
  warmToken: string
  coldTokens: ReadonlyArray<string>
  orgId: string
  agentId: string
  seconds: number
}) => {
  const client = proxyClient(spec.target, spec.tls)
  const validate = (token: string, deadlineMs: number) => () =>
    unary((m, o, cb) => client.validateToken({ token }, m, o, cb), deadlineMs)
  const verify = () =>
    unary((m, o, cb) => client.verifyAgent({ orgId: spec.orgId, agentId: spec.agentId }, m, o, cb), 1_000)
  // Warm-up: the channel, the server's JIT, the cache entry.
  await loops(4, validate(spec.warmToken, 2_000), { count: 2_000 })
  await loops(4, verify, { count: 1_000 })
  const ms = spec.seconds * 1000
  const warmSequential = await loops(1, validate(spec.warmToken, 1_000), { until: performance.now() + ms })
  const warmConcurrent16 = await loops(16, validate(spec.warmToken, 1_000), { until: performance.now() + ms })
  const verifySequential = await loops(1, verify, { until: performance.now() + ms })
  // Cold: each token is new to the server, so each call runs the lookup and Argon2id.
  let next = 0
  const cold = await loops(
    1,
    () => {
      const token = spec.coldTokens[next++] ?? ""
      return validate(token, 5_000)()
    },
    { count: spec.coldTokens.length }
  )
  client.close()
  return { warmSequential, warmConcurrent16, verifySequential, coldSequential: cold }
}

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 })
const probe = (url: URL, token: string, agentId: string): Promise<number> =>
  new Promise((resolve) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        agent: httpAgent,
        headers: { authorization: `Bearer ${token}`, "x-ibex-agent-id": agentId }
      },
      (res) => {
        res.resume()
        res.on("end", () => resolve(res.statusCode ?? 0))
      }
    )
    req.on("error", () => resolve(0))
    req.end()
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const revocation = async (spec: {
  proxyUrl: string
  revokeTarget: string
  tls: TlsFiles
  adminToken: string
  agentId: string
  trials: ReadonlyArray<{ token: string; tokenId: string }>
  probers: number
  timeoutMs: number
}) => {
  const url = new URL("/v1/internal/auth-probe", spec.proxyUrl)
  const client = proxyClient(spec.revokeTarget, spec.tls)
  const admin = new Metadata()
  admin.set("authorization", `Bearer ${spec.adminToken}`)
  const toFirst401: Array<number> = []
  const answerToFirst401: Array<number> = []
  const revokeAck: Array<number> = []
  let missed = 0
  let notWarm = 0
  for (const trial of spec.trials) {
    // Warm: the proxy's auth instance has verified (and cached) the token.
    let warm = false
    for (let i = 0; i < 3; i++) warm = (await probe(url, trial.token, spec.agentId)) === 200
    if (!warm) {
      notWarm++
      continue
    }
    let first401: number | undefined
    let stop = false
    const prober = async () => {
      while (!stop) {
        const status = await probe(url, trial.token, spec.agentId)
        if (status === 401 && first401 === undefined) first401 = performance.now()
      }
    }
    const running = Array.from({ length: spec.probers }, prober)
    await sleep(5)
    const t0 = performance.now()
    const ack = await unary((m, o, cb) => client.revokeToken({ tokenId: trial.tokenId }, m, o, cb), 5_000, admin)
    if (ack.code !== 0) throw new Error(`RevokeToken failed with gRPC code ${ack.code}`)
    revokeAck.push(ack.ms)
    const answered = performance.now()
    const deadline = t0 + spec.timeoutMs
    while (first401 === undefined && performance.now() < deadline) await sleep(1)
    stop = true
    await Promise.all(running)
    if (first401 === undefined || first401 > deadline) missed++
    else {
      toFirst401.push(Math.max(0, first401 - t0))
      // The measure: from RevokeToken's answer (a 401 seen before the answer counts as 0).
      answerToFirst401.push(Math.max(0, first401 - answered))
    }
    await sleep(20)
  }
  client.close()
  httpAgent.destroy()
  return {
    revokeToFirst401: summarize(toFirst401),
    answerToFirst401: summarize(answerToFirst401),
    revokeAck: summarize(revokeAck),
    missed,
    notWarm
  }
}

const limiter = async (spec: { redisUrl: string; keyPrefix: string; count: number }) => {
  const scope = Effect.runSync(Scope.make())
  const orgs = Array.from({ length: 64 }, (_, i) => `0190a0b0-0000-7000-8000-${String(i).padStart(12, "0")}` as OrgId)
  try {
    const rl = await Effect.runPromise(
      Scope.extend(
        // Leases off: this row measures one EVALSHA decision, which every org under 120,000/min pays.
        makeRateLimiterRedis({
          url: spec.redisUrl,
          keyPrefix: spec.keyPrefix,
          commandTimeoutMs: 100,
          leaseMaxUnits: 1
        }).pipe(Effect.provide(UsageLedgerEmpty)),
        scope
      )
    )
    const policy = perMinute(1_000_000_000)
    let i = 0
    const one = async () => {
      const org = orgs[i++ % orgs.length] as OrgId
      const t = performance.now()
      const exit = await Effect.runPromiseExit(rl.consume(org, policy))
      return { ms: performance.now() - t, code: Exit.isSuccess(exit) && exit.value.allowed ? 0 : 1 }
    }
    await loops(4, one, { count: 2_000 })
    const sequential = await loops(1, one, { count: spec.count })
    const concurrent16 = await loops(16, one, { count: spec.count })
    return { sequential, concurrent16 }
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    const redis = new Redis(spec.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 })
    await redis.del(...orgs.map((org) => rateLimitKey(spec.keyPrefix, org)))
    redis.disconnect()
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming

interface StreamTarget {
  readonly url: string
  readonly headers?: Record<string, string>
}

interface StreamOutcome {
  readonly status: number
  /** From just before the request is written to the first received bytes holding `data:`. */
  readonly firstChunkMs: number | undefined
  readonly totalMs: number
  readonly done: boolean
  /** Why the stream did not complete, when it did not. */
  readonly failure: string | undefined
  /** Sent again once: the reused keep-alive connection was reset before any answer (see streamOnce). */
  readonly retried: boolean
}

/**
 * One streaming POST read to its end; completed = 200, `data: [DONE]` seen and no in-stream error
 * event. A request written on a reused keep-alive connection that the server closed as idle at
 * the same moment fails with ECONNRESET before any answer (the race Node's docs describe under
 * `request.reusedSocket`); such a request is sent again once, as HTTP clients do, timed from the
 * first attempt and counted (`retried`).
 */
const streamOnce = (
  target: StreamTarget,
  agent: http.Agent,
  body: string,
  timeoutMs: number,
  t0 = performance.now(),
  retried = false
): Promise<StreamOutcome> =>
  new Promise<StreamOutcome>((resolve) => {
    const url = new URL(target.url)
    let first: number | undefined
    let status = 0
    let carry = ""
    let done = false
    let inStreamError = false
    let settled = false
    const settle = (failure: string | undefined) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      const ok = failure === undefined && status === 200 && done && !inStreamError
      resolve({
        retried,
        status,
        firstChunkMs: first,
        totalMs: performance.now() - t0,
        done,
        failure: ok
          ? undefined
          : (failure ?? (status !== 200 ? `status ${status}` : inStreamError ? "in-stream error" : "no [DONE]"))
      })
    }
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        agent,
        headers: {
          ...target.headers,
          "content-type": "application/json",
          accept: "text/event-stream",
          "content-length": Buffer.byteLength(body)
        }
      },
      (res) => {
        status = res.statusCode ?? 0
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => {
          // Frames may split anywhere: look at the chunk with the tail of the previous one.
          const text = carry + chunk
          if (first === undefined && text.includes("data:")) first = performance.now() - t0
          if (text.includes("data: [DONE]")) done = true
          if (text.includes('data: {"error"')) inStreamError = true
          carry = text.slice(-16)
        })
        res.on("end", () => settle(undefined))
        res.on("aborted", () => settle("aborted"))
        res.on("error", (e: Error & { code?: string }) => settle(e.code ?? e.message))
      }
    )
    const timer = setTimeout(() => req.destroy(new Error("client timeout")), timeoutMs)
    req.on("error", (e: Error & { code?: string }) => {
      if (!settled && !retried && status === 0 && req.reusedSocket && e.code === "ECONNRESET") {
        settled = true
        clearTimeout(timer)
        resolve(streamOnce(target, agent, body, timeoutMs, t0, true))
      } else settle(e.code ?? e.message)
    })
    req.end(body)
  })

const count = (into: Record<string, number>, key: string) => {
  into[key] = (into[key] ?? 0) + 1
}

/** Sequential streams to each target in turn (a, b, a, b, …): drift of the machine hits both alike. */
const ttfc = async (spec: { targets: Record<string, StreamTarget>; body: string; warmup: number; count: number }) => {
  const names = Object.keys(spec.targets)
  const agents = Object.fromEntries(names.map((n) => [n, new http.Agent({ keepAlive: true, maxSockets: 1 })]))
  const samples: Record<string, Array<number>> = Object.fromEntries(names.map((n) => [n, []]))
  const failures: Record<string, Record<string, number>> = Object.fromEntries(names.map((n) => [n, {}]))
  const retries: Record<string, number> = {}
  for (let i = 0; i < spec.warmup + spec.count; i++)
    for (const name of names) {
      const r = await streamOnce(spec.targets[name] as StreamTarget, agents[name] as http.Agent, spec.body, 10_000)
      if (i < spec.warmup) {
        if (r.failure !== undefined && i === spec.warmup - 1)
          throw new Error(`ttfc warm-up: ${name} ${spec.targets[name]?.url}: ${r.failure}`)
        continue
      }
      if (r.retried) retries[name] = (retries[name] ?? 0) + 1
      if (r.failure === undefined && r.firstChunkMs !== undefined) samples[name]?.push(r.firstChunkMs)
      else count(failures[name] as Record<string, number>, r.failure ?? "no data: chunk")
    }
  for (const a of Object.values(agents)) a.destroy()
  return Object.fromEntries(
    names.map((n) => [n, { ...summarize(samples[n] ?? []), failures: failures[n], retries: retries[n] ?? 0 }])
  )
}

/**
 * `waves` waves of `streams` concurrent streams, back to back; each wave opens its streams in 20
 * batches over `rampMs` and ends when every stream has ended. What is measured is streams held,
 * not the rate they open at: 1,000 at once would overflow the server's accept queue (the kernel's
 * 1 s SYN retry) and the proxy's per-request budgets on a 2-core machine.
 */
const slowStreams = async (spec: {
  target: StreamTarget
  body: string
  streams: number
  waves: number
  rampMs: number
  streamTimeoutMs: number
}) => {
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: spec.streams + 100,
    maxFreeSockets: spec.streams + 100
  })
  const batches = 20
  const perBatch = Math.ceil(spec.streams / batches)
  const waves = []
  for (let w = 0; w < spec.waves; w++) {
    const startedAt = Date.now()
    const pending: Array<Promise<StreamOutcome>> = []
    let inFlight = 0
    let maxInFlight = 0
    for (let i = 0; i < spec.streams; i += perBatch) {
      for (let j = i; j < Math.min(spec.streams, i + perBatch); j++)
        pending.push(
          (async () => {
            maxInFlight = Math.max(maxInFlight, ++inFlight)
            const outcome = await streamOnce(spec.target, agent, spec.body, spec.streamTimeoutMs)
            inFlight--
            return outcome
          })()
        )
      await sleep(spec.rampMs / batches)
    }
    const outcomes = await Promise.all(pending)
    const endedAt = Date.now()
    const failures: Record<string, number> = {}
    for (const o of outcomes) if (o.failure !== undefined) count(failures, o.failure)
    const ok = outcomes.filter((o) => o.failure === undefined)
    waves.push({
      startedAt,
      endedAt,
      durationSec: Number(((endedAt - startedAt) / 1000).toFixed(1)),
      completed: ok.length,
      failed: outcomes.length - ok.length,
      failures,
      keepAliveRetries: outcomes.filter((o) => o.retried).length,
      /** The most streams open at once (sent, not yet ended). */
      maxInFlight,
      firstChunkMs: summarize(ok.map((o) => o.firstChunkMs ?? 0)),
      streamSec: summarize(ok.map((o) => o.totalMs / 1000))
    })
  }
  agent.destroy()
  return { streams: spec.streams, waves }
}

const [command, json] = process.argv.slice(2)
const spec = JSON.parse(json ?? "{}")
const result =
  command === "grpc"
    ? await grpc(spec)
    : command === "revocation"
      ? await revocation(spec)
      : command === "limiter"
        ? await limiter(spec)
        : command === "ttfc"
          ? await ttfc(spec)
          : command === "slowStreams"
            ? await slowStreams(spec)
            : (() => {
                throw new Error(`unknown command ${command}`)
              })()
console.log(JSON.stringify(result))
