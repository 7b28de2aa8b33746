import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { AUTH_VERSION, AuthConfig, AuthHttpConfig } from "@ibex/app-auth"
import { readConfig, telemetryConfig } from "@ibex/app-common"
import { ProxyAppConfig } from "@ibex/app-proxy"
import { defaultDataDir } from "@ibex/persistence-pg"
import { Config, ConfigProvider, Effect } from "effect"

/**
 * A development pepper kept beside the data folder (mode 0600), so a developer's `npm start`
 * works without IBEX_TOKEN_PEPPER and keeps the same pepper across restarts. Production sets
 * IBEX_TOKEN_PEPPER (apps/auth refuses to start on DATABASE_URL without it).
 */
export const devPepper = (dataDir: string): string => {
  const file = join(dirname(resolve(dataDir)), "token-pepper")
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" })
    chmodSync(file, 0o600)
  }
  return readFileSync(file, "utf8").trim()
}

export const StackConfig = Config.all({
  auth: AuthConfig,
  authHttp: AuthHttpConfig,
  proxy: ProxyAppConfig,
  telemetry: telemetryConfig("ibex", AUTH_VERSION)
})

/**
 * `npm start` reads the same variables as the two services (docs/CONFIGURATION.md), with
 * development defaults where a variable is unset:
 *  - PROXY_HOST 127.0.0.1: a developer's first start should not expose a gateway on every interface;
 *  - AUTH_TIMEOUT_MS 1000: here PGlite (WASM, single-threaded) shares one event loop with both
 *    services, and a cold token costs Argon2id plus several PGlite round trips (measured
 *    ~100–200 ms on a loaded 2-core machine); the production default of 50 ms applies when the
 *    proxy runs on its own (apps/proxy);
 *  - IBEX_TOKEN_PEPPER: the development pepper above.
 */
export const loadStackConfig = (env: Readonly<Record<string, string | undefined>> = process.env) =>
  Effect.suspend(() => {
    // A default fills only a variable that is unset: a set but invalid value (AUTH_TIMEOUT_MS=abc)
    // must fail with its name, not fall back (a provider `orElse` would retry the default).
    const values = new Map<string, string>([
      ["PROXY_HOST", "127.0.0.1"],
      ["AUTH_TIMEOUT_MS", "1000"]
    ])
    if (env.IBEX_TOKEN_PEPPER === undefined)
      values.set("IBEX_TOKEN_PEPPER", devPepper(env.IBEX_DATA_DIR ?? defaultDataDir()))
    for (const [name, value] of Object.entries(env)) if (value !== undefined) values.set(name, value)
    return readConfig(StackConfig).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(values, { pathDelim: "_", seqDelim: "," }))
    )
  })
