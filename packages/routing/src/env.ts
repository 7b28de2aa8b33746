/**
 * The environment variables that choose a routing source. The apps read them; the layers take
 * plain options so tests and the CLI never go through the process environment.
 */
export const RoutingEnv = {
  /** Path of a JSON (`.json`) or YAML (`.yaml` / `.yml`) routing file, watched for changes. */
  file: "IBEX_ROUTES_FILE",
  /** NATS server URL(s), comma-separated: the routing config is a JetStream KV entry. */
  natsUrl: "IBEX_ROUTES_NATS_URL",
  natsBucket: "IBEX_ROUTES_NATS_BUCKET",
  natsKey: "IBEX_ROUTES_NATS_KEY"
} as const

/** Resolves `api_key_env` names against the process environment (the production default). */
export const processEnv = (name: string): string | undefined => process.env[name]
