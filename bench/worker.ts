// Client-side measurements that are not plain HTTP load, each in this process of its own (never
// inside the services it measures). Usage: node --import tsx bench/worker.ts <command> '<json>'
// → one JSON line on stdout.
//   grpc        ValidateToken (warm: one cached token; cold: distinct never-seen tokens → Argon2id)
//               and VerifyAgent over one reused grpc-js channel, sequential and concurrent.
//   revocation  revoke through one auth instance, probe the proxy (on the other instance) until
//               the first 401; one trial per token.
//   limiter     the Redis GCRA limiter's own cost (EVALSHA through the adapter), on a private key prefix.
import http from "node:http"
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js"
import { AuthProto } from "@ibex/auth-adapter-grpc"
import { type OrgId, perMinute } from "@ibex/domain"
import { makeRateLimiterRedis, rateLimitKey } from "@ibex/ratelimit-redis"
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

const grpc = async (spec: {
  target: string
  warmToken: string
  coldTokens: ReadonlyArray<string>
  orgId: string
  agentId: string
  seconds: number
}) => {
  const client = new AuthProto.AuthServiceClient(spec.target, credentials.createInsecure())
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
  adminToken: string
  agentId: string
  trials: ReadonlyArray<{ token: string; tokenId: string }>
  probers: number
  timeoutMs: number
}) => {
  const url = new URL("/v1/internal/auth-probe", spec.proxyUrl)
  const client = new AuthProto.AuthServiceClient(spec.revokeTarget, credentials.createInsecure())
  const admin = new Metadata()
  admin.set("authorization", `Bearer ${spec.adminToken}`)
  const toFirst401: Array<number> = []
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
    const deadline = t0 + spec.timeoutMs
    while (first401 === undefined && performance.now() < deadline) await sleep(1)
    stop = true
    await Promise.all(running)
    if (first401 === undefined || first401 > deadline) missed++
    else toFirst401.push(Math.max(0, first401 - t0))
    await sleep(20)
  }
  client.close()
  httpAgent.destroy()
  return { revokeToFirst401: summarize(toFirst401), revokeAck: summarize(revokeAck), missed, notWarm }
}

const limiter = async (spec: { redisUrl: string; keyPrefix: string; count: number }) => {
  const scope = Effect.runSync(Scope.make())
  const orgs = Array.from({ length: 64 }, (_, i) => `0190a0b0-0000-7000-8000-${String(i).padStart(12, "0")}` as OrgId)
  try {
    const rl = await Effect.runPromise(
      Scope.extend(
        makeRateLimiterRedis({ url: spec.redisUrl, keyPrefix: spec.keyPrefix, commandTimeoutMs: 100 }),
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

const [command, json] = process.argv.slice(2)
const spec = JSON.parse(json ?? "{}")
const result =
  command === "grpc"
    ? await grpc(spec)
    : command === "revocation"
      ? await revocation(spec)
      : command === "limiter"
        ? await limiter(spec)
        : (() => {
            throw new Error(`unknown command ${command}`)
          })()
console.log(JSON.stringify(result))
