import { randomBytes } from "node:crypto"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { AgentVerifierLive, InvalidationHubLive, TokenValidatorLive, type TokenValidatorOptions } from "@ibex/auth-core"
import { SecureRandomWebCrypto } from "@ibex/domain"
import { SecretHasherMemory, StoresMemory } from "@ibex/testkit"
import { Cause, Effect, HashMap, Layer, List, Logger, Redacted } from "effect"
import {
  AuditLogJson,
  AuthClientLive,
  AuthGatewayFromClient,
  AuthGatewayGrpc,
  AuthGrpcServer,
  AuthGrpcServerLive,
  TokenDigestHmac
} from "../src/index.js"

/** A pepper for tests (random per process). */
export const testPepper = Redacted.make(randomBytes(32).toString("base64url"))

/** Every log record, rendered as the line a JSON logger would write (message, annotations, spans, cause). */
export const capturedLogs: Array<string> = []
const bigintSafe = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v)
export const CapturingLogger = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ logLevel, message, annotations, cause, spans }) => {
    capturedLogs.push(
      JSON.stringify(
        {
          level: logLevel.label,
          message,
          annotations: Object.fromEntries(HashMap.toEntries(annotations)),
          spans: List.toArray(spans).map((s) => s.label),
          cause: Cause.isEmpty(cause) ? undefined : Cause.pretty(cause)
        },
        bigintSafe
      )
    )
  })
)

/** The auth services over the in-memory stores (fake fast hasher with call counters), a real HMAC digest and the JSON audit log. */
export const memoryAuthServices = (options?: TokenValidatorOptions) =>
  Layer.mergeAll(TokenValidatorLive(options), AgentVerifierLive(), InvalidationHubLive()).pipe(
    Layer.provideMerge(
      Layer.mergeAll(StoresMemory, SecretHasherMemory, TokenDigestHmac(testPepper), AuditLogJson, SecureRandomWebCrypto)
    )
  )

/** Server on 127.0.0.1:0 over the memory services, plus the AuthGateway/AuthClient aimed at it. */
export const memoryStack = (options?: { validator?: TokenValidatorOptions; deadlineMs?: number }) => {
  const server = AuthGrpcServerLive({ host: "127.0.0.1", port: 0, shutdownTimeoutMs: 1_000 }).pipe(
    Layer.provideMerge(memoryAuthServices(options?.validator))
  )
  const client = Layer.unwrapEffect(
    Effect.map(AuthGrpcServer, (s) => AuthGatewayGrpc({ target: s.address, deadlineMs: options?.deadlineMs ?? 2_000 }))
  )
  return client.pipe(Layer.provideMerge(server), Layer.provide(CapturingLogger))
}

/** A raw generated client (for asserting exact statuses, messages and trailers). */
export { AuthServiceClient } from "../src/gen/ibex/auth/v1/auth.js"

export interface CallResult<Res> {
  readonly error: grpc.ServiceError | null
  readonly response: Res | undefined
}

/** Calls a raw client method and resolves with error or response, never rejects. */
export const rawCall = <Req, Res>(
  method: (
    req: Req,
    md: grpc.Metadata,
    opts: Partial<grpc.CallOptions>,
    cb: (e: grpc.ServiceError | null, r: Res) => void
  ) => grpc.ClientUnaryCall,
  request: Req,
  metadata: grpc.Metadata = new grpc.Metadata(),
  deadlineMs = 5_000
): Promise<CallResult<Res>> =>
  new Promise((resolve) => {
    method(request, metadata, { deadline: Date.now() + deadlineMs }, (error, response) =>
      resolve({ error, response: error ? undefined : response })
    )
  })

export const bearer = (token: Redacted.Redacted<string> | string): grpc.Metadata => {
  const md = new grpc.Metadata()
  md.set("authorization", `Bearer ${typeof token === "string" ? token : Redacted.value(token)}`)
  return md
}

/** A grpc.reflection.v1 client: lists the services the server exposes. */
export const listServicesByReflection = (target: string): Promise<Array<string>> => {
  const reflectionDir = join(dirname(createRequire(import.meta.url).resolve("@grpc/reflection")), "..", "proto")
  const definition = protoLoader.loadSync("grpc/reflection/v1/reflection.proto", {
    includeDirs: [reflectionDir],
    keepCase: true
  })
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: new (t: string, c: grpc.ChannelCredentials) => grpc.Client } } }
  }
  const client = new pkg.grpc.reflection.v1.ServerReflection(
    target,
    grpc.credentials.createInsecure()
  ) as grpc.Client & {
    ServerReflectionInfo: () => grpc.ClientDuplexStream<
      unknown,
      { list_services_response?: { service: Array<{ name: string }> } }
    >
  }
  return new Promise((resolve, reject) => {
    const stream = client.ServerReflectionInfo()
    stream.on("data", (msg) => {
      resolve((msg.list_services_response?.service ?? []).map((s: { name: string }) => s.name))
      stream.end()
      client.close()
    })
    stream.on("error", (e) => reject(e))
    stream.write({ list_services: "*" })
  })
}

export { AuthClientLive, AuthGatewayFromClient }
