import type { IamSettings } from "@ibex/auth-core"
import { bootstrapPlatformAdmin } from "@ibex/auth-core"
import {
  type AuditTrail,
  makeMailerMemory,
  type OperatorStore,
  type SecretHasher,
  type SecureRandom
} from "@ibex/domain"
import { authServicesMemory, IamStoresMemory } from "@ibex/testkit"
import { provisionDatabase } from "@ibex/testkit/provision"
import { Layer, Logger, LogLevel, ManagedRuntime, Option, Redacted } from "effect"
import {
  AUTH_VERSION,
  AuthAdminHttp,
  AuthAdminHttpLive,
  authServicesOnDatabase,
  IamAdminHandlersLive
} from "../src/index.js"
import { type Backend, migrations, testConfig, testPepper } from "./stack.js"

/** A cookie-keeping HTTP client, as a browser on the console would be (same origin, double submit). */
export class Browser {
  readonly jar = new Map<string, string>()
  constructor(readonly base: string) {}

  async call(
    method: string,
    path: string,
    options: {
      readonly body?: unknown
      readonly org?: string
      readonly csrf?: boolean
      readonly origin?: string
      readonly headers?: Record<string, string>
    } = {}
    // biome-ignore lint/suspicious/noExplicitAny: the tests read JSON bodies by their documented shape
  ): Promise<{ status: number; json: any; headers: Headers }> {
    const headers: Record<string, string> = { ...options.headers }
    if (this.jar.size > 0) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("; ")
    if (options.body !== undefined) headers["content-type"] = "application/json"
    if (options.org !== undefined) headers["x-ibex-org-id"] = options.org
    if (options.csrf !== false && this.jar.has("ibex_csrf"))
      headers["x-csrf-token"] = this.jar.get("ibex_csrf") as string
    if (options.origin !== undefined) headers.origin = options.origin
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
    })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";")
      const i = (pair ?? "").indexOf("=")
      const name = (pair ?? "").slice(0, i)
      const value = decodeURIComponent((pair ?? "").slice(i + 1))
      if (/Max-Age=0/.test(c)) this.jar.delete(name)
      else this.jar.set(name, value)
    }
    const text = await res.text()
    return { status: res.status, json: text === "" ? null : JSON.parse(text), headers: res.headers }
  }
  get = (path: string, org?: string) => this.call("GET", path, org === undefined ? {} : { org })
  post = (path: string, body?: unknown, org?: string) =>
    this.call("POST", path, { ...(body === undefined ? {} : { body }), ...(org === undefined ? {} : { org }) })
}

export const TEST_SETTINGS: Partial<IamSettings> = {
  resetTtlMs: 2_000,
  refreshReuseGraceMs: 1_000,
  maxAttemptsPerAccount: 5,
  maxAttemptsPerSource: 100_000,
  consoleUrl: "http://console.test/console/"
}

/**
 * The auth service's admin listener exactly as production composes it (persistence on a fresh
 * database, Argon2id, the IAM API), on a free port, with the collecting mailer and the first
 * platform admin bootstrapped.
 */
export const iamEnvironment = async (backend: Backend | "memory") => {
  const db = backend === "memory" ? null : await provisionDatabase({ migrations, backend })
  const mail = makeMailerMemory()
  const http = { host: "127.0.0.1", port: 0 }
  const listener = AuthAdminHttpLive({ ...http, version: AUTH_VERSION, processMetrics: false }).pipe(
    Layer.provide(IamAdminHandlersLive(http, { mailer: mail.layer, settings: TEST_SETTINGS }))
  )
  const quiet = Logger.minimumLogLevel(LogLevel.Warning)
  const layer: Layer.Layer<AuthAdminHttp | OperatorStore | AuditTrail | SecretHasher | SecureRandom, unknown> =
    db === null
      ? // The in-memory stores (testkit), with the same use cases and HTTP layer over them.
        listener.pipe(
          Layer.provideMerge(IamStoresMemory.pipe(Layer.provideMerge(authServicesMemory()))),
          Layer.provide(quiet)
        )
      : listener.pipe(
          Layer.provideMerge(
            authServicesOnDatabase(
              testConfig(),
              { url: Redacted.make(db.appUrl), appRole: db.appRole, maxConnections: db.kind === "pglite" ? 4 : 10 },
              testPepper
            )
          ),
          Layer.provide(quiet)
        )
  const runtime = ManagedRuntime.make(layer)
  const admin = await runtime.runPromise(AuthAdminHttp)
  const boot = Option.getOrThrow(await runtime.runPromise(bootstrapPlatformAdmin()))
  return {
    url: admin.url,
    runtime,
    mail,
    admin: { email: boot.operator.email, password: Redacted.value(boot.password), id: boot.operator.id },
    close: async () => {
      await runtime.dispose()
      await db?.drop()
    }
  }
}
export type IamEnvironment = Awaited<ReturnType<typeof iamEnvironment>>

export const signedInAdmin = async (env: IamEnvironment) => {
  const b = new Browser(env.url)
  const r = await b.post("/v1/auth/signin", { email: env.admin.email, password: env.admin.password })
  if (r.status !== 200) throw new Error(`admin sign-in: ${r.status} ${JSON.stringify(r.json)}`)
  return b
}

let counter = 0
export const uniqueEmail = (prefix: string) => `${prefix}-${Date.now()}-${counter++}@example.test`
export const PASSWORD = "correct horse battery staple"

/** A new operator with `role` in `orgId`: invited by `admin`, signed up through the mailed link. */
export const newMember = async (env: IamEnvironment, admin: Browser, orgId: string, role: string) => {
  const email = uniqueEmail(role)
  const inv = await admin.post("/v1/admin/invitations", { email, role }, orgId)
  if (inv.status !== 201) throw new Error(`invite: ${inv.status} ${JSON.stringify(inv.json)}`)
  const mail = env.mail.sent.findLast((m) => m.to === email)
  const token = new URL(Redacted.value(mail?.link ?? Redacted.make("http://x/#/")).replace("#/", "")).searchParams.get(
    "invitation"
  )
  const b = new Browser(env.url)
  const r = await b.post("/v1/auth/signup", { invitation: token, password: PASSWORD, display_name: role })
  if (r.status !== 201) throw new Error(`signup: ${r.status} ${JSON.stringify(r.json)}`)
  return { browser: b, id: r.json.operator.id as string, email }
}

export const newOrg = async (admin: Browser) => {
  const r = await admin.post("/v1/admin/orgs", { name: `org-${Date.now()}-${counter++}` })
  if (r.status !== 201) throw new Error(`org: ${r.status} ${JSON.stringify(r.json)}`)
  return r.json.org.id as string
}
