import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { AUTH_VERSION, AuthConfig, AuthHttpConfig, AuthTlsConfig, authEnvVars } from "@ibex/app-auth"
import { telemetryConfig } from "@ibex/app-common"
import { ProxyAppConfig, ProxyTlsConfig, proxyEnvVars } from "@ibex/app-proxy"
import { cliEnvVars } from "@ibex/cli"
import { type Config, ConfigProvider, Effect } from "effect"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const docs = readFileSync(join(root, "docs/CONFIGURATION.md"), "utf8")
const envExample = readFileSync(join(root, ".env.example"), "utf8")

/** Every variable in the first column of a table in docs/CONFIGURATION.md. */
const documented = new Set([...docs.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]!))

/** The names a Config actually asks for: run it against a provider that records every lookup. */
const namesRead = (config: Config.Config<unknown>): Set<string> => {
  const seen = new Set<string>()
  const provider = ConfigProvider.fromMap(new Map()).pipe(
    ConfigProvider.mapInputPath((name) => {
      seen.add(name)
      return name
    })
  )
  Effect.runSync(Effect.either(Effect.withConfigProvider(config, provider)))
  return seen
}

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (["node_modules", "dist-types", "gen", "results"].includes(name)) return []
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.(ts|mts|mjs|sh)$/.test(name) ? [path] : []
  })

const codeDirs = ["apps", "packages", "scripts", "bench"].map((d) => join(root, d))
const allSource = codeDirs.flatMap((d) => {
  try {
    return sourceFiles(d)
  } catch {
    return []
  }
})
const productSource = allSource.filter((f) => /\/src\//.test(f) && !/\.test\.ts$/.test(f))

/** `process.env.NAME` / `env.NAME` reads outside Effect Config, in product code. */
const directReads = new Set(
  productSource.flatMap((f) => [...readFileSync(f, "utf8").matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!))
)

describe("configuration reference (docs/CONFIGURATION.md)", () => {
  const configs = {
    auth: namesRead(AuthConfig),
    authHttp: namesRead(AuthHttpConfig),
    authTelemetry: namesRead(telemetryConfig("ibex-auth", AUTH_VERSION)),
    authTls: namesRead(AuthTlsConfig),
    proxy: namesRead(ProxyAppConfig),
    proxyTls: namesRead(ProxyTlsConfig),
    proxyTelemetry: namesRead(telemetryConfig("ibex-proxy", AUTH_VERSION))
  }
  const readByConfig = new Set(Object.values(configs).flatMap((s) => [...s]))
  // Read by a library on our behalf rather than by our Config.
  const readByLibraries = new Set(["OTEL_RESOURCE_ATTRIBUTES"])

  it("every variable the services read through Config is documented", () => {
    const missing = [...readByConfig].filter((n) => !documented.has(n))
    expect(missing).toEqual([])
  })

  it("every variable read directly from process.env in product code is documented", () => {
    const missing = [...directReads].filter((n) => !documented.has(n))
    expect(missing).toEqual([])
  })

  it("the apps' catalogues list exactly what their Config reads", () => {
    const authRead = [
      ...configs.auth,
      ...configs.authHttp,
      ...configs.authTelemetry,
      ...configs.authTls,
      ...readByLibraries
    ]
    expect(authEnvVars.map((v) => v.name).sort()).toEqual([...new Set(authRead)].sort())
    const proxyRead = [...configs.proxy, ...configs.proxyTelemetry, ...configs.proxyTls, ...readByLibraries]
    expect(proxyEnvVars.map((v) => v.name).sort()).toEqual([...new Set(proxyRead)].sort())
  })

  it("every documented variable is read somewhere in the code", () => {
    const corpus = allSource.map((f) => readFileSync(f, "utf8")).join("\n")
    const unread = [...documented].filter(
      (n) =>
        !readByConfig.has(n) &&
        !readByLibraries.has(n) &&
        !directReads.has(n) &&
        !new RegExp(`(env\\.${n}\\b|"${n}")`).test(corpus)
    )
    expect(unread).toEqual([])
  })

  it("the CLI's catalogue is documented", () => {
    const missing = cliEnvVars.map((v) => v.name).filter((n) => !documented.has(n))
    expect(missing).toEqual([])
  })

  it(".env.example lists every service variable", () => {
    const listed = new Set([...envExample.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!))
    const missing = [...readByConfig, ...readByLibraries].filter((n) => !listed.has(n))
    expect(missing).toEqual([])
  })
})
