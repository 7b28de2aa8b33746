import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as grpc from "@grpc/grpc-js"
import { AuthGateway, Permissions } from "@ibex/domain"
import { setupTwoOrgs, type TestOrgContext } from "@ibex/testkit"
import { Effect, Layer, ManagedRuntime, Option, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { UsageServiceClient } from "../src/gen/ibex/auth/v1/usage.js"
import {
  AuthGatewayGrpc,
  AuthGrpcServer,
  AuthGrpcServerLive,
  type DevCertificates,
  ensureDevCertificates,
  readTlsFiles,
  type TlsFiles,
  type TlsMaterial
} from "../src/index.js"
import { AuthServiceClient, bearer, CapturingLogger, memoryAuthServices, rawCall } from "./harness.js"

/**
 * Issue 14 item 1: the internal RPCs are authenticated. Over a real socket, auth serves mutual TLS:
 * a client without a certificate, or with one from another CA, never completes a call; a CLI
 * certificate is refused the proxy-only RPCs but may call the management ones with its bearer; the
 * proxy's certificate serves the proxy RPCs.
 */
const dir = mkdtempSync(join(tmpdir(), "ibex-mtls-"))
let certs: DevCertificates
let otherCa: DevCertificates
const makeRuntime = (tls: DevCertificates) => {
  const server = AuthGrpcServerLive({
    host: "127.0.0.1",
    port: 0,
    shutdownTimeoutMs: 1_000,
    tls: readTlsFiles(tls.auth)
  }).pipe(Layer.provideMerge(memoryAuthServices()))
  const gateway = Layer.unwrapEffect(
    Effect.map(AuthGrpcServer, (s) =>
      AuthGatewayGrpc({
        target: s.address,
        deadlineMs: 2_000,
        tls: { ...readTlsFiles(tls.proxy), serverName: "localhost" }
      })
    )
  )
  return ManagedRuntime.make(gateway.pipe(Layer.provideMerge(server), Layer.provide(CapturingLogger)))
}
let runtime: ReturnType<typeof makeRuntime>
let address: string
let orgA: TestOrgContext
const clients: Array<grpc.Client> = []

const authClient = (tls: TlsMaterial | undefined) => {
  const c = new AuthServiceClient(
    address,
    tls === undefined ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(tls.ca, tls.key, tls.cert)
  )
  clients.push(c)
  return c
}
/** A side's certificate and key, trusting `trust`'s CA for the server. */
const material = (side: TlsFiles, trust: DevCertificates = certs): TlsMaterial => ({
  ...readTlsFiles(side),
  ca: readTlsFiles({ ...side, caFile: trust.caFile }).ca
})

beforeAll(async () => {
  certs = await ensureDevCertificates(join(dir, "tls"))
  otherCa = await ensureDevCertificates(join(dir, "other"))
  runtime = makeRuntime(certs)
  orgA = (await runtime.runPromise(setupTwoOrgs())).orgA
  address = (await runtime.runPromise(AuthGrpcServer)).address
}, 60_000)

afterAll(async () => {
  for (const c of clients) c.close()
  await runtime?.dispose()
  rmSync(dir, { recursive: true, force: true })
})

describe("mutual TLS between the proxy / CLI and auth (issue 14 item 1)", () => {
  it("the development certificates are 0600 files in a 0700 folder, and are reused", async () => {
    expect(statSync(certs.dir).mode & 0o777).toBe(0o700)
    for (const f of [certs.caFile, certs.auth.certFile, certs.auth.keyFile, certs.proxy.keyFile, certs.cli.keyFile])
      expect(statSync(f).mode & 0o777).toBe(0o600)
    expect(statSync(join(certs.dir, "ca-key.pem")).mode & 0o777).toBe(0o600)
    const again = await ensureDevCertificates(certs.dir)
    expect(again.issued).toBe(false)
  })

  it("a client without a certificate cannot complete a call (plaintext, or TLS without a client certificate)", async () => {
    const insecure = authClient(undefined)
    const plaintext = await rawCall(insecure.validateToken.bind(insecure), { token: Redacted.value(orgA.token) })
    expect(plaintext.error?.code).toBe(grpc.status.UNAVAILABLE)

    const noCert = new AuthServiceClient(address, grpc.credentials.createSsl(readTlsFiles(certs.cli).ca))
    clients.push(noCert)
    const refused = await rawCall(noCert.validateToken.bind(noCert), { token: Redacted.value(orgA.token) })
    expect(refused.error?.code).toBe(grpc.status.UNAVAILABLE)
    expect(refused.response).toBeUndefined()
  })

  it("a client with a certificate from another CA is refused at the handshake", async () => {
    // Control: the same call with this deployment's proxy certificate is answered.
    const own = authClient(readTlsFiles(certs.proxy))
    expect((await rawCall(own.validateToken.bind(own), { token: Redacted.value(orgA.token) })).error).toBeNull()
    // Its proxy certificate says "proxy", but no CA auth trusts signed it.
    const stranger = authClient(material(otherCa.proxy, certs))
    const result = await rawCall(stranger.validateToken.bind(stranger), { token: Redacted.value(orgA.token) })
    expect(result.error?.code).toBe(grpc.status.UNAVAILABLE)
    const created = await rawCall(
      stranger.createToken.bind(stranger),
      { name: "stranger", permissions: Permissions.of("chat:completions") },
      bearer(orgA.token)
    )
    expect(created.error?.code).toBe(grpc.status.UNAVAILABLE)
  })

  it("a CLI certificate gets PERMISSION_DENIED on ValidateToken, Authorize, VerifyAgent, WatchInvalidations, RecordUsage and GetMonthSpend, but may CreateToken with a valid bearer", async () => {
    const cli = authClient(readTlsFiles(certs.cli))
    const token = Redacted.value(orgA.token)
    const validate = await rawCall(cli.validateToken.bind(cli), { token })
    expect(validate.error?.code).toBe(grpc.status.PERMISSION_DENIED)
    expect(validate.response).toBeUndefined()
    const authorize = await rawCall(cli.authorize.bind(cli), { token, agentId: orgA.agentId })
    expect(authorize.error?.code).toBe(grpc.status.PERMISSION_DENIED)
    const verify = await rawCall(cli.verifyAgent.bind(cli), { orgId: orgA.orgId, agentId: orgA.agentId })
    expect(verify.error?.code).toBe(grpc.status.PERMISSION_DENIED)

    const watched = await new Promise<grpc.ServiceError | "data">((resolve) => {
      const stream = cli.watchInvalidations({})
      stream.on("data", () => {
        stream.cancel()
        resolve("data")
      })
      stream.on("error", (e: grpc.ServiceError) => resolve(e))
    })
    expect(watched === "data" ? "data" : watched.code).toBe(grpc.status.PERMISSION_DENIED)

    const usage = new UsageServiceClient(address, grpc.credentials.createSsl(...tlsArgs(readTlsFiles(certs.cli))))
    clients.push(usage)
    const recorded = await rawCall(usage.recordUsage.bind(usage), { records: [] })
    expect(recorded.error?.code).toBe(grpc.status.PERMISSION_DENIED)
    const spend = await rawCall(usage.getMonthSpend.bind(usage), { orgId: orgA.orgId, month: "2026-01" })
    expect(spend.error?.code).toBe(grpc.status.PERMISSION_DENIED)
    expect(spend.response).toBeUndefined()

    const created = await rawCall(
      cli.createToken.bind(cli),
      { name: "from-cli", permissions: Permissions.of("chat:completions") },
      bearer(orgA.token)
    )
    expect(created.error).toBeNull()
    expect(created.response?.token).toMatch(/^ibex_pat_/)
    // Management RPCs keep their bearer authorisation on top of the channel.
    const noBearer = await rawCall(cli.createToken.bind(cli), { name: "x", permissions: 0n })
    expect(noBearer.error?.code).toBe(grpc.status.UNAUTHENTICATED)
  })

  it("the proxy certificate serves the proxy RPCs (the gateway over mTLS)", async () => {
    const authorization = await runtime.runPromise(
      Effect.flatMap(AuthGateway, (g) => g.authorize(orgA.token, Option.some(orgA.agentId)))
    )
    expect(authorization.principal.orgId).toBe(orgA.orgId)
    const principal = await runtime.runPromise(Effect.flatMap(AuthGateway, (g) => g.validateToken(orgA.token)))
    expect(principal.orgId).toBe(orgA.orgId)
    await runtime.runPromise(Effect.flatMap(AuthGateway, (g) => g.verifyAgent(orgA.orgId, orgA.agentId)))
    const proxy = authClient(readTlsFiles(certs.proxy))
    const raw = await rawCall(proxy.validateToken.bind(proxy), { token: Redacted.value(orgA.token) })
    expect(raw.error).toBeNull()
    expect(raw.response?.orgId).toBe(orgA.orgId)
    const usage = new UsageServiceClient(address, grpc.credentials.createSsl(...tlsArgs(readTlsFiles(certs.proxy))))
    clients.push(usage)
    const recorded = await rawCall(usage.recordUsage.bind(usage), { records: [] })
    expect(recorded.error).toBeNull()
    const spend = await rawCall(usage.getMonthSpend.bind(usage), { orgId: orgA.orgId, month: "2026-01" })
    expect(spend.error).toBeNull()
    expect(spend.response?.spendMicroUsd).toBe(0n)
  })
})

const tlsArgs = (tls: TlsMaterial) => [tls.ca, tls.key, tls.cert] as const
