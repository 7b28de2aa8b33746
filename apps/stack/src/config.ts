import { AuthConfig } from "@ibex/app-auth"
import { ProxyAppConfig } from "@ibex/app-proxy"
import { Config, ConfigProvider, Effect } from "effect"

/**
 * `npm start` reads the same variables as the two services (docs/CONFIGURATION.md), with two
 * different defaults: the proxy binds loopback, because a developer's first start should not
 * expose a gateway on every interface; and the auth budget is 1 s, because here PGlite (WASM,
 * single-threaded) shares one event loop with both services and a cold token costs Argon2id
 * plus several PGlite round trips (measured ~100–200 ms on a loaded 2-core machine). The
 * production default of 50 ms applies when the proxy runs on its own (apps/proxy).
 */
const stackDefaults = ConfigProvider.fromMap(
  new Map([
    ["PROXY_HOST", "127.0.0.1"],
    ["AUTH_TIMEOUT_MS", "1000"]
  ])
)

export const StackConfig = Config.all({ auth: AuthConfig, proxy: ProxyAppConfig })

export const loadStackConfig = (env: ConfigProvider.ConfigProvider = ConfigProvider.fromEnv()) =>
  Effect.withConfigProvider(StackConfig, env.pipe(ConfigProvider.orElse(() => stackDefaults)))
