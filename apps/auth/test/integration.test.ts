import * as grpc from "@grpc/grpc-js"
import { AuthClient, AuthGrpcServer, AuthProto, REASON_TRAILER } from "@ibex/auth-adapter-grpc"
import { AuthGateway, ErrorCatalogue, Permissions, TokenStore } from "@ibex/domain"
import { setupTwoOrgs, type TestOrgContext } from "@ibex/testkit"
import { type ProvisionedDatabase, provisionDatabase } from "@ibex/testkit/provision"
import { Effect, Exit, type Layer, ManagedRuntime, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { authInstance, backends, countingArgon2, migrations } from "./stack.js"

const json = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x))

/** Everything written to stdout / stderr while the suites run (the JSON logger writes there). */
const output: Array<string> = []
const realOut = process.stdout.write.bind(process.stdout)
const realErr = process.stderr.write.bind(process.stderr)
const spy =
  (real: typeof process.stdout.write) =>
  (chunk: unknown, ...rest: Array<unknown>): boolean => {
    output.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"))
    return (real as (c: unknown, ...r: Array<unknown>) => boolean)(chunk, ...rest)
  }

for (const backend of backends) {
  describe(`auth service over gRPC on ${backend}`, () => {
    const hasher = countingArgon2()
    let db: ProvisionedDatabase
    let runtime: ManagedRuntime.ManagedRuntime<Layer.Layer.Success<ReturnType<typeof authInstance>>, unknown>
    let orgA: TestOrgContext
    let orgB: TestOrgContext
    let raw: AuthProto.AuthServiceClient
    const secrets: Array<string> = []
    type R = Layer.Layer.Success<ReturnType<typeof authInstance>>
    const run = <A, E>(e: Effect.Effect<A, E, R>) => runtime.runPromise(e)
    const tagOf = async <A, E>(e: Effect.Effect<A, E, R>) => {
      const exit = await runtime.runPromiseExit(e)
      return Exit.isSuccess(exit)
        ? "success"
        : exit.cause._tag === "Fail"
          ? (exit.cause.error as { _tag: string })._tag
          : exit.cause._tag
    }
    const rawCall = <Req, Res>(
      method: (
        r: Req,
        m: grpc.Metadata,
        o: Partial<grpc.CallOptions>,
        cb: (e: grpc.ServiceError | null, res: Res) => void
      ) => grpc.ClientUnaryCall,
      request: Req,
      metadata = new grpc.Metadata()
    ) =>
      new Promise<grpc.ServiceError | null>((resolve) => {
        method(request, metadata, { deadline: Date.now() + 5_000 }, (e) => resolve(e))
      })
    const bearer = (t: Redacted.Redacted<string>) => {
      const m = new grpc.Metadata()
      m.set("authorization", `Bearer ${Redacted.value(t)}`)
      return m
    }

    beforeAll(async () => {
      process.stdout.write = spy(realOut) as typeof process.stdout.write
      process.stderr.write = spy(realErr) as typeof process.stderr.write
      db = await provisionDatabase({ migrations, backend })
      runtime = ManagedRuntime.make(authInstance(db, hasher.layer))
      const fixtures = await run(setupTwoOrgs())
      orgA = fixtures.orgA
      orgB = fixtures.orgB
      for (const org of [orgA, orgB]) for (const t of Object.values(org.tokens)) secrets.push(Redacted.value(t.token))
      const { address } = await run(AuthGrpcServer)
      raw = new AuthProto.AuthServiceClient(address, grpc.credentials.createInsecure())
    })

    afterAll(async () => {
      raw?.close()
      await runtime?.dispose()
      await db?.drop()
      process.stdout.write = realOut
      process.stderr.write = realErr
    })

    it("bootstrap admin → create → validate → revoke → validate fails; the plaintext comes back once", async () => {
      const created = await run(
        Effect.flatMap(AuthClient, (c) =>
          c.createToken(orgA.token, { name: "integration", permissions: Permissions.of("chat:completions") })
        )
      )
      secrets.push(created.token)
      const id = created.info!.id
      const principal = await run(Effect.flatMap(AuthGateway, (g) => g.validateToken(Redacted.make(created.token))))
      expect(principal.tokenId).toBe(id)
      expect(principal.orgId).toBe(orgA.orgId)

      // Never again: not in a list, not in a revoke answer, and the store keeps only an Argon2id hash.
      const listed = await run(Effect.flatMap(AuthClient, (c) => c.listTokens(orgA.token, { pageSize: 200 })))
      expect(listed.tokens.map((t) => t.id)).toContain(id)
      expect(json(listed)).not.toContain(created.token.slice(-43))
      const credential = await run(Effect.flatMap(TokenStore, (s) => s.findCredential(id as never)))
      expect(credential._tag === "Some" && credential.value.secretHash.startsWith("$argon2id$")).toBe(true)
      expect(json(credential)).not.toContain(created.token.slice(-43))

      const revoked = await run(Effect.flatMap(AuthClient, (c) => c.revokeToken(orgA.token, id)))
      expect(revoked.info?.revokedAt).toBeInstanceOf(Date)
      expect(json(revoked)).not.toContain(created.token.slice(-43))
      expect(await tagOf(Effect.flatMap(AuthGateway, (g) => g.validateToken(Redacted.make(created.token))))).toBe(
        "InvalidToken"
      )
    })

    it("a caller without tokens:create cannot create", async () => {
      const e = await rawCall(
        raw.createToken.bind(raw),
        { name: "x", permissions: 0n },
        bearer(orgA.tokens.readOnly.token)
      )
      expect(e?.code).toBe(grpc.status.PERMISSION_DENIED)
      expect(e?.metadata.get(REASON_TRAILER)).toEqual(["INSUFFICIENT_PERMISSIONS"])
    })

    it("cross-tenant revoke is NOT_FOUND and leaves the token valid", async () => {
      const e = await rawCall(raw.revokeToken.bind(raw), { tokenId: orgB.tokens.chatOnly.info.id }, bearer(orgA.token))
      expect(e?.code).toBe(grpc.status.NOT_FOUND)
      expect(e?.metadata.get(REASON_TRAILER)).toEqual(["NOT_FOUND"])
      expect(await tagOf(Effect.flatMap(AuthGateway, (g) => g.validateToken(orgB.tokens.chatOnly.token)))).toBe(
        "success"
      )
    })

    it("ListTokens never shows another org's tokens", async () => {
      const idsB = new Set(Object.values(orgB.tokens).map((t) => t.info.id))
      let pageToken = ""
      const seen: Array<string> = []
      do {
        const page = await run(Effect.flatMap(AuthClient, (c) => c.listTokens(orgA.token, { pageSize: 3, pageToken })))
        for (const t of page.tokens) {
          expect(t.orgId).toBe(orgA.orgId)
          expect(idsB.has(t.id)).toBe(false)
          seen.push(t.id)
        }
        pageToken = page.nextPageToken
      } while (pageToken !== "")
      for (const t of Object.values(orgA.tokens)) expect(seen).toContain(t.info.id)
      const listedB = await run(Effect.flatMap(AuthClient, (c) => c.listTokens(orgB.token, { pageSize: 200 })))
      expect(listedB.tokens.every((t) => t.orgId === orgB.orgId)).toBe(true)
    })

    it("unknown / wrong-secret / revoked / expired answer the same status and message", async () => {
      const full = Redacted.value(orgA.token)
      const cases = [
        `ibex_pat_00000000-0000-4000-8000-000000000009_${full.slice(-43)}`,
        `${full.slice(0, -43)}${"B".repeat(42)}A`,
        Redacted.value(orgA.tokens.revoked.token),
        Redacted.value(orgA.tokens.expired.token)
      ]
      const errors = await Promise.all(cases.map((token) => rawCall(raw.validateToken.bind(raw), { token })))
      for (const e of errors) {
        expect(e?.code).toBe(grpc.status.UNAUTHENTICATED)
        expect(e?.details).toBe(ErrorCatalogue.InvalidToken.message)
      }
    })

    it("a second validation over gRPC does not call the SecretHasher; a revoked token is never served from the cache", async () => {
      const created = await run(
        Effect.flatMap(AuthClient, (c) => c.createToken(orgA.token, { name: "cache", permissions: Permissions.none }))
      )
      secrets.push(created.token)
      const token = Redacted.make(created.token)
      const before = hasher.calls.verify
      await run(Effect.flatMap(AuthGateway, (g) => g.validateToken(token)))
      expect(hasher.calls.verify).toBe(before + 1)
      for (let i = 0; i < 10; i++) await run(Effect.flatMap(AuthGateway, (g) => g.validateToken(token)))
      expect(hasher.calls.verify).toBe(before + 1)
      await run(Effect.flatMap(AuthClient, (c) => c.revokeToken(orgA.token, created.info!.id)))
      for (let i = 0; i < 3; i++)
        expect(await tagOf(Effect.flatMap(AuthGateway, (g) => g.validateToken(token)))).toBe("InvalidToken")
    })

    it("no plaintext token, secret or hash appears in any log line", async () => {
      const hashes: Array<string> = []
      for (const org of [orgA, orgB])
        for (const t of Object.values(org.tokens)) {
          const c = await run(Effect.flatMap(TokenStore, (s) => s.findCredential(t.info.id)))
          if (c._tag === "Some") hashes.push(c.value.secretHash)
        }
      const logs = output.join("")
      expect(logs).toContain('"audit":"token_created"')
      expect(logs).toContain('"audit":"token_revoked"')
      expect(logs).toContain('"audit":"management_refused"')
      for (const s of secrets) {
        expect(logs).not.toContain(s)
        expect(logs).not.toContain(s.slice(-43))
      }
      for (const h of hashes) expect(logs).not.toContain(h)
      expect(logs).not.toContain("$argon2id$")
    })
  })
}
