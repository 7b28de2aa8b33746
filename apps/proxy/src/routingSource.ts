import type { EnvVar } from "@ibex/app-common"
import { decodeRoutingConfig, emptyRoutingTable, type Routing, RoutingStatic } from "@ibex/domain"
import { RoutingFileLive, type RoutingLoadFailed, RoutingNatsKvLive } from "@ibex/routing"
import { Config, Either, type Layer, Option, Redacted } from "effect"
import { defaultRoutingConfig, type EmbeddedProviders } from "./defaultRoutes.js"

/** Which routing source the proxy reads, from IBEX_ROUTES_FILE or IBEX_ROUTES_NATS_*. */
export interface RoutingSourceConfig {
  readonly file: Option.Option<string>
  readonly nats: Option.Option<{ readonly servers: string; readonly bucket: string; readonly key: string }>
  /** The embedded default's providers, from their keys' presence. */
  readonly embedded: EmbeddedProviders
  readonly keys: {
    readonly OPENAI_API_KEY: Option.Option<Redacted.Redacted<string>>
    readonly ANTHROPIC_API_KEY: Option.Option<Redacted.Redacted<string>>
  }
}

export const routingEnvVars: ReadonlyArray<EnvVar> = [
  {
    name: "IBEX_ROUTES_FILE",
    default: null,
    secret: false,
    description:
      "Routing config (JSON or YAML; docs/PROVIDERS.md), watched and hot-reloaded. Unset: NATS KV if configured, else the embedded default."
  },
  {
    name: "IBEX_ROUTES_NATS_URL",
    default: null,
    secret: false,
    description: "NATS server(s) holding the routing config in a JetStream KV entry (for fleets)."
  },
  { name: "IBEX_ROUTES_NATS_BUCKET", default: "ibex-routing", secret: false, description: "The KV bucket." },
  { name: "IBEX_ROUTES_NATS_KEY", default: "routes", secret: false, description: "The KV key." },
  {
    name: "OPENAI_API_KEY",
    default: null,
    secret: true,
    description: "Embedded default only (no routing source set): route OpenAI's models to api.openai.com with this key."
  },
  {
    name: "ANTHROPIC_API_KEY",
    default: null,
    secret: true,
    description: "Embedded default only: route Claude models to api.anthropic.com with this key."
  },
  {
    name: "OPENAI_BASE_URL",
    default: "https://api.openai.com/v1",
    secret: false,
    description: "Embedded default only: where OPENAI_API_KEY's requests go (any OpenAI-compatible server)."
  },
  {
    name: "ANTHROPIC_BASE_URL",
    default: "https://api.anthropic.com",
    secret: false,
    description: "Embedded default only: where ANTHROPIC_API_KEY's requests go."
  }
]

const key = (name: string) =>
  Config.option(Config.redacted(name)).pipe(Config.map((o) => Option.filter(o, (k) => Redacted.value(k).trim() !== "")))

export const RoutingSourceConfig: Config.Config<RoutingSourceConfig> = Config.all({
  keys: Config.all({ OPENAI_API_KEY: key("OPENAI_API_KEY"), ANTHROPIC_API_KEY: key("ANTHROPIC_API_KEY") }),
  openaiBase: Config.nonEmptyString("OPENAI_BASE_URL").pipe(Config.withDefault("https://api.openai.com/v1")),
  anthropicBase: Config.nonEmptyString("ANTHROPIC_BASE_URL").pipe(Config.withDefault("https://api.anthropic.com")),
  file: Config.option(Config.nonEmptyString("IBEX_ROUTES_FILE")),
  nats: Config.option(
    Config.all({
      servers: Config.nonEmptyString("IBEX_ROUTES_NATS_URL"),
      bucket: Config.nonEmptyString("IBEX_ROUTES_NATS_BUCKET").pipe(Config.withDefault("ibex-routing")),
      key: Config.nonEmptyString("IBEX_ROUTES_NATS_KEY").pipe(Config.withDefault("routes"))
    })
  )
}).pipe(
  Config.map(({ keys, openaiBase, anthropicBase, file, nats }) => ({
    file,
    nats,
    keys,
    embedded: {
      openai: Option.as(keys.OPENAI_API_KEY, openaiBase),
      anthropic: Option.as(keys.ANTHROPIC_API_KEY, anthropicBase)
    }
  }))
)

/**
 * The routing layer: the file when IBEX_ROUTES_FILE is set, else the NATS KV entry, else the
 * embedded default (provider keys in the environment, or the local mock upstream when this
 * process runs one), else an empty table (chat answers 501 PROVIDER_NOT_CONFIGURED).
 */
export const RoutingFromConfig = (
  config: RoutingSourceConfig,
  options: { readonly mockUpstreamUrl?: string } = {}
): Layer.Layer<Routing, RoutingLoadFailed> => {
  if (Option.isSome(config.file)) return RoutingFileLive({ path: config.file.value })
  if (Option.isSome(config.nats)) return RoutingNatsKvLive(config.nats.value)
  const wire = defaultRoutingConfig(config.embedded, options.mockUpstreamUrl)
  if (wire === undefined) return RoutingStatic(emptyRoutingTable, "none")
  const keyOf = (name: string) =>
    name === "OPENAI_API_KEY" || name === "ANTHROPIC_API_KEY"
      ? Option.getOrUndefined(Option.map(config.keys[name], Redacted.value))
      : undefined
  const decoded = decodeRoutingConfig(wire, keyOf)
  // The default is built from set variables only, so it always decodes; an empty table is the safe side anyway.
  return RoutingStatic(
    Either.getOrElse(decoded, () => emptyRoutingTable),
    "embedded default"
  )
}
