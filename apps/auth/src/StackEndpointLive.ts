import { AuthGrpcServer } from "@ibex/auth-adapter-grpc"
import { issuePlatformAdmin, revokePlatformAdmin } from "@ibex/auth-core"
import { PlatformAdminStore } from "@ibex/domain"
import { removeStackEndpoint, type StackEndpointTls, writeStackEndpoint } from "@ibex/persistence-pg"
import { Effect, Layer, type Redacted } from "effect"

export const LOCAL_STACK_ADMIN = "local-stack"

/**
 * Embedded mode only: records how to reach this running auth service in its data folder
 * (`ibex-stack.json`, 0600), so that `ibex …` works while the stack runs (issue 18 item 6).
 * At start it revokes any `local-stack` platform-admin credential a crashed run left behind, mints
 * a fresh one and writes it with the gRPC address and the PGlite socket URL; at stop it revokes
 * the credential and removes the file.
 */
export interface StackEndpointOptions {
  readonly dataDir: string
  readonly ownerUrl: Redacted.Redacted<string>
  /** The CLI's certificate, key and CA files (npm start's development certificates), recorded for `ibex`. */
  readonly cliTls?: StackEndpointTls | undefined
}

export const StackEndpointLive = (options: StackEndpointOptions) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const server = yield* AuthGrpcServer
      const store = yield* PlatformAdminStore
      const actor = { kind: "database_owner", name: LOCAL_STACK_ADMIN } as const
      for (const admin of yield* store.list)
        if (admin.name === LOCAL_STACK_ADMIN && admin.revokedAt === null)
          yield* revokePlatformAdmin(actor, admin.id).pipe(Effect.ignore)
      const issued = yield* issuePlatformAdmin(actor, LOCAL_STACK_ADMIN)
      yield* Effect.acquireRelease(
        Effect.sync(() =>
          writeStackEndpoint(options.dataDir, {
            pid: process.pid,
            authGrpc: server.address,
            databaseUrl: options.ownerUrl,
            adminCredential: issued.credential,
            ...(options.cliTls === undefined ? {} : { tls: options.cliTls })
          })
        ),
        () =>
          Effect.zipRight(
            Effect.sync(() => removeStackEndpoint(options.dataDir)),
            revokePlatformAdmin(actor, issued.admin.id).pipe(Effect.ignore)
          )
      )
      yield* Effect.logInfo({ event: "stack_endpoint_written", admin_credential_id: issued.admin.id })
    })
  )
