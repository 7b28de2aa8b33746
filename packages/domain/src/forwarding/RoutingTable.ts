import { Either, Option, ParseResult, Redacted, Schema } from "effect"
import { FieldError } from "../FieldError.js"
import { ProviderKind, type TargetTimeouts } from "./Upstream.js"

/**
 * The routing config (IBEX_ROUTES_FILE, or a NATS KV entry): which client-visible model names
 * exist, where each one goes, in what order, and which orgs may use which. The wire shape is
 * snake_case JSON (YAML parses to the same value); `decodeRoutingConfig` turns it into a
 * `RoutingTable`, checked as a whole, or every problem found. Keys never appear in the file:
 * a provider names the environment variable that holds its key.
 */

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const NonEmpty = Schema.String.pipe(Schema.minLength(1))
const opt = <S extends Schema.Schema.Any>(s: S) => Schema.optionalWith(s, { exact: true })

const TimeoutsWire = Schema.Struct({
  connect_ms: opt(PositiveInt),
  first_byte_ms: opt(PositiveInt),
  idle_ms: opt(PositiveInt),
  total_ms: opt(PositiveInt)
})

const ProviderWire = Schema.Struct({
  id: NonEmpty,
  // One message for the union, not one per kind it is not.
  kind: ProviderKind.annotations({
    message: () => ({
      message: `must be one of ${ProviderKind.literals.map((k) => JSON.stringify(k)).join(", ")}`,
      override: true
    })
  }),
  base_url: NonEmpty,
  api_key_env: opt(NonEmpty),
  api_version: opt(NonEmpty),
  timeouts: opt(TimeoutsWire)
})

const TargetWire = Schema.Struct({
  provider: NonEmpty,
  model: NonEmpty,
  priority: opt(NonNegativeInt),
  weight: opt(Schema.Number.pipe(Schema.positive()))
})

const PricingWire = Schema.Struct({
  input_per_million: Schema.Number.pipe(Schema.nonNegative()),
  output_per_million: Schema.Number.pipe(Schema.nonNegative()),
  cached_input_per_million: opt(Schema.Number.pipe(Schema.nonNegative())),
  image_input_tokens: opt(PositiveInt)
})

const ModelWire = Schema.Struct({
  name: NonEmpty,
  targets: Schema.Array(TargetWire).pipe(Schema.minItems(1)),
  pricing: opt(PricingWire)
})

const OrgWire = Schema.Struct({ org_id: Schema.UUID, models: Schema.Array(NonEmpty) })

const RetryWire = Schema.Struct({
  max_attempts: opt(PositiveInt),
  base_delay_ms: opt(NonNegativeInt),
  max_delay_ms: opt(NonNegativeInt),
  retry_after_cap_ms: opt(NonNegativeInt)
})

const CooldownWire = Schema.Struct({ failures: opt(PositiveInt), period_ms: opt(NonNegativeInt) })

export const RoutingConfigWire = Schema.Struct({
  providers: Schema.Array(ProviderWire),
  models: Schema.Array(ModelWire),
  orgs: opt(Schema.Array(OrgWire)),
  retry: opt(RetryWire),
  cooldown: opt(CooldownWire),
  default_timeouts: opt(TimeoutsWire)
})
export type RoutingConfigWire = typeof RoutingConfigWire.Type

// ---- the decoded table ----

export interface ProviderSpec {
  readonly id: string
  readonly kind: ProviderKind
  readonly baseUrl: string
  readonly apiKeyEnv: Option.Option<string>
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  readonly apiVersion: Option.Option<string>
  readonly timeouts: TargetTimeouts
}

export interface RouteTarget {
  readonly provider: ProviderSpec
  readonly model: string
  readonly priority: number
  readonly weight: number
}

export interface ModelPricing {
  readonly inputPerMillion: number
  readonly outputPerMillion: number
  readonly cachedInputPerMillion: number
  /** The most prompt tokens one image input may cost on this model: what each image part reserves. */
  readonly imageInputTokens: number
}

/**
 * What one image part reserves unless the model's pricing says otherwise: above what an image
 * costs on gpt-4o (at most 1,445 tokens at high detail), gpt-4.1-mini (about 2,500) and Claude
 * (about 1,600). An image sent by URL adds only its URL's bytes to the request, so the body's
 * size says nothing of it.
 */
export const DEFAULT_IMAGE_INPUT_TOKENS = 2_500

export interface ModelRoute {
  readonly name: string
  /** In config order; `orderTargets` decides the order of one request's attempts. */
  readonly targets: ReadonlyArray<RouteTarget>
  readonly pricing: Option.Option<ModelPricing>
}

export interface RetryPolicy {
  /** Attempts per target before falling back to the next one (1 = no retry). */
  readonly maxAttempts: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  /** An upstream's Retry-After is honoured up to this; longer means fall back instead of waiting. */
  readonly retryAfterCapMs: number
}

export interface CooldownPolicy {
  /** Consecutive failed attempts after which a target is skipped for `periodMs`. */
  readonly failures: number
  readonly periodMs: number
}

export interface RoutingTable {
  /** A digest of the decoded config: equal configs have equal revisions. */
  readonly revision: string
  readonly providers: ReadonlyMap<string, ProviderSpec>
  readonly models: ReadonlyMap<string, ModelRoute>
  /** Orgs limited to a set of models; an org not listed may use every model. */
  readonly orgModels: ReadonlyMap<string, ReadonlySet<string>>
  readonly retry: RetryPolicy
  readonly cooldown: CooldownPolicy
}

export const defaultTimeouts: TargetTimeouts = {
  connectMs: 5_000,
  firstByteMs: 60_000,
  idleMs: 30_000,
  totalMs: 600_000
}
export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 2,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  retryAfterCapMs: 5_000
}
export const defaultCooldownPolicy: CooldownPolicy = { failures: 3, periodMs: 30_000 }

/** An empty table: every model is unknown. */
export const emptyRoutingTable: RoutingTable = {
  revision: "empty",
  providers: new Map(),
  models: new Map(),
  orgModels: new Map(),
  retry: defaultRetryPolicy,
  cooldown: defaultCooldownPolicy
}

const timeoutsOf = (wire: typeof TimeoutsWire.Type | undefined, base: TargetTimeouts): TargetTimeouts => ({
  connectMs: wire?.connect_ms ?? base.connectMs,
  firstByteMs: wire?.first_byte_ms ?? base.firstByteMs,
  idleMs: wire?.idle_ms ?? base.idleMs,
  totalMs: wire?.total_ms ?? base.totalMs
})

const isHttpUrl = (s: string): boolean => {
  try {
    const u = new URL(s)
    return (u.protocol === "http:" || u.protocol === "https:") && u.username === "" && u.password === ""
  } catch {
    return false
  }
}

/** FNV-1a over the canonical JSON: a revision id, not a security digest. */
const revisionOf = (value: unknown): string => {
  const text = JSON.stringify(value)
  let h1 = 0x811c9dc5
  let h2 = 0x01000193
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0")
}

const wireOptions = { errors: "all", onExcessProperty: "error" } as const

/**
 * The config's outline, its lists' elements decoded one by one: a provider with a bad field does
 * not hide the other providers' and models' errors, nor the checks across fields (unset key
 * variables, unknown providers) of everything that did decode. One load reports all of it.
 */
const OutlineWire = Schema.Struct({
  providers: Schema.Array(Schema.Unknown),
  models: Schema.Array(Schema.Unknown),
  orgs: opt(Schema.Array(Schema.Unknown)),
  retry: opt(Schema.Unknown),
  cooldown: opt(Schema.Unknown),
  default_timeouts: opt(Schema.Unknown)
})
const decodeOutline = ParseResult.decodeUnknownEither(OutlineWire, wireOptions)
/** The outline again, unknown top-level keys aside: those are reported, and the rest still checked. */
const decodeOutlineLeniently = ParseResult.decodeUnknownEither(OutlineWire, { errors: "all" })
const decodeProvider = ParseResult.decodeUnknownEither(ProviderWire, wireOptions)
const decodeModel = ParseResult.decodeUnknownEither(ModelWire, wireOptions)
const decodeOrg = ParseResult.decodeUnknownEither(OrgWire, wireOptions)
const decodeRetry = ParseResult.decodeUnknownEither(RetryWire, wireOptions)
const decodeCooldown = ParseResult.decodeUnknownEither(CooldownWire, wireOptions)
const decodeTimeouts = ParseResult.decodeUnknownEither(TimeoutsWire, wireOptions)

/**
 * Effect's messages end with the value found (`Expected …, actual "sk-live-…"`): these errors are
 * logged, printed at startup and shown in `/admin/routing`, and a key pasted into the wrong field
 * must not travel with them. What was expected is enough to fix the file.
 */
const withoutActual = (message: string): string => message.replace(/, actual [\s\S]*$/, "")

const issuesAt = (prefix: ReadonlyArray<PropertyKey>, issue: ParseResult.ParseIssue): Array<FieldError> =>
  ParseResult.ArrayFormatter.formatIssueSync(issue).map((i) => {
    const path = [...prefix, ...i.path]
    return new FieldError({
      field: path.length === 0 ? "config" : path.map(String).join("."),
      message: withoutActual(i.message)
    })
  })

/** The string values of `key` in a list's object elements, decoded or not. */
const namesIn = (list: ReadonlyArray<unknown>, key: string): ReadonlySet<string> =>
  new Set(
    list.flatMap((e) =>
      typeof e === "object" && e !== null && typeof (e as Record<string, unknown>)[key] === "string"
        ? [(e as Record<string, unknown>)[key] as string]
        : []
    )
  )

/**
 * Conventional variable names are echoed in errors; anything else may be a key pasted where its
 * variable's name belongs (a 32-digit Azure key would pass a looser pattern than upper case).
 */
const looksLikeVariableName = (name: string): boolean => /^[A-Z_][A-Z0-9_]{0,127}$/.test(name)

/**
 * Decodes and checks a whole routing config. `env` resolves `api_key_env` names (the process
 * environment in production): a named variable that is unset or empty is an error, so a typo
 * fails the load instead of sending unauthenticated requests.
 */
export const decodeRoutingConfig = (
  input: unknown,
  env: (name: string) => string | undefined
): Either.Either<RoutingTable, ReadonlyArray<FieldError>> => {
  const strict = decodeOutline(input)
  const outline = Either.isRight(strict) ? strict : decodeOutlineLeniently(input)
  if (Either.isLeft(outline)) return Either.left(issuesAt([], Either.isLeft(strict) ? strict.left : outline.left))
  const given = outline.right
  const errors: Array<FieldError> = Either.isLeft(strict) ? issuesAt([], strict.left) : []
  const fail = (field: string, message: string) => errors.push(new FieldError({ field, message }))
  const each = <A>(
    list: ReadonlyArray<unknown>,
    name: string,
    decode: (u: unknown) => Either.Either<A, ParseResult.ParseIssue>
  ): Array<readonly [A, number]> =>
    list.flatMap((element, i) => {
      const one = decode(element)
      if (Either.isRight(one)) return [[one.right, i] as const]
      errors.push(...issuesAt([name, i], one.left))
      return []
    })
  const unsetKeyVariable = (i: number, name: string) =>
    fail(
      `providers.${i}.api_key_env`,
      looksLikeVariableName(name)
        ? `environment variable ${name} is not set`
        : "names an environment variable that is not set (not shown: it does not look like a variable name; is it the key itself?)"
    )
  /** An optional section decoded on its own: a bad one is reported beside everything else. */
  const section = <A>(
    value: unknown,
    name: string,
    decode: (u: unknown) => Either.Either<A, ParseResult.ParseIssue>
  ) => {
    if (value === undefined) return undefined
    const one = decode(value)
    if (Either.isRight(one)) return one.right
    errors.push(...issuesAt([name], one.left))
    return undefined
  }
  const retryWire = section(given.retry, "retry", decodeRetry)
  const cooldownWire = section(given.cooldown, "cooldown", decodeCooldown)
  const timeoutsWire = section(given.default_timeouts, "default_timeouts", decodeTimeouts)
  const decodedProviders = each(given.providers, "providers", decodeProvider)
  // What can be checked of every provider, decoded or not: its id is not a duplicate, its URL is
  // http(s), and (when it did not decode) the key variable it names is set.
  const decodedAt = new Set(decodedProviders.map(([, i]) => i))
  const seenIds = new Set<string>()
  given.providers.forEach((p, i) => {
    const fields = typeof p === "object" && p !== null ? (p as Record<string, unknown>) : {}
    if (typeof fields.id === "string") {
      if (seenIds.has(fields.id)) fail(`providers.${i}.id`, `duplicate provider id "${fields.id}"`)
      seenIds.add(fields.id)
    }
    if (typeof fields.base_url === "string" && !isHttpUrl(fields.base_url))
      fail(`providers.${i}.base_url`, "must be an http(s) URL without credentials")
    const name = fields.api_key_env
    if (!decodedAt.has(i) && typeof name === "string" && name !== "" && (env(name) ?? "") === "")
      unsetKeyVariable(i, name)
  })
  const decodedModels = each(given.models, "models", decodeModel)
  const decodedOrgs = each(given.orgs ?? [], "orgs", decodeOrg)
  // Names carried by elements that failed to decode: a reference to one is not also "unknown".
  const providerIds = namesIn(given.providers, "id")
  const modelNames = namesIn(given.models, "name")
  // The decoded config, keys in the schema's order as a whole decode gives them (the revision hashes it).
  const wire: RoutingConfigWire = {
    providers: decodedProviders.map(([p]) => p),
    models: decodedModels.map(([m]) => m),
    ...(given.orgs === undefined ? {} : { orgs: decodedOrgs.map(([o]) => o) }),
    ...(retryWire === undefined ? {} : { retry: retryWire }),
    ...(cooldownWire === undefined ? {} : { cooldown: cooldownWire }),
    ...(timeoutsWire === undefined ? {} : { default_timeouts: timeoutsWire })
  }
  const base = timeoutsOf(wire.default_timeouts, defaultTimeouts)

  const providers = new Map<string, ProviderSpec>()
  decodedProviders.forEach(([p, i]) => {
    if (p.kind === "azure-openai" && p.api_version === undefined)
      fail(`providers.${i}.api_version`, "is required for azure-openai")
    let apiKey: Option.Option<Redacted.Redacted<string>> = Option.none()
    if (p.api_key_env !== undefined) {
      const value = env(p.api_key_env)
      if (value === undefined || value === "") unsetKeyVariable(i, p.api_key_env)
      else apiKey = Option.some(Redacted.make(value))
    } else if (p.kind !== "openai") fail(`providers.${i}.api_key_env`, `is required for ${p.kind}`)
    providers.set(p.id, {
      id: p.id,
      kind: p.kind,
      baseUrl: p.base_url.replace(/\/+$/, ""),
      apiKeyEnv: Option.fromNullable(p.api_key_env),
      apiKey,
      apiVersion: Option.fromNullable(p.api_version),
      timeouts: timeoutsOf(p.timeouts, base)
    })
  })

  const models = new Map<string, ModelRoute>()
  decodedModels.forEach(([m, i]) => {
    if (models.has(m.name)) fail(`models.${i}.name`, `duplicate model name "${m.name}"`)
    const targets: Array<RouteTarget> = []
    m.targets.forEach((t, j) => {
      const provider = providers.get(t.provider)
      if (provider === undefined) {
        if (!providerIds.has(t.provider)) fail(`models.${i}.targets.${j}.provider`, `unknown provider "${t.provider}"`)
      } else targets.push({ provider, model: t.model, priority: t.priority ?? j, weight: t.weight ?? 1 })
    })
    models.set(m.name, {
      name: m.name,
      targets,
      pricing: Option.map(Option.fromNullable(m.pricing), (p) => ({
        inputPerMillion: p.input_per_million,
        outputPerMillion: p.output_per_million,
        cachedInputPerMillion: p.cached_input_per_million ?? p.input_per_million,
        imageInputTokens: p.image_input_tokens ?? DEFAULT_IMAGE_INPUT_TOKENS
      }))
    })
  })

  const orgModels = new Map<string, ReadonlySet<string>>()
  decodedOrgs.forEach(([o, i]) => {
    if (orgModels.has(o.org_id)) fail(`orgs.${i}.org_id`, "duplicate org")
    o.models.forEach((name, j) => {
      if (!models.has(name) && !modelNames.has(name)) fail(`orgs.${i}.models.${j}`, `unknown model "${name}"`)
    })
    orgModels.set(o.org_id, new Set(o.models))
  })

  const retry: RetryPolicy = {
    maxAttempts: wire.retry?.max_attempts ?? defaultRetryPolicy.maxAttempts,
    baseDelayMs: wire.retry?.base_delay_ms ?? defaultRetryPolicy.baseDelayMs,
    maxDelayMs: wire.retry?.max_delay_ms ?? defaultRetryPolicy.maxDelayMs,
    retryAfterCapMs: wire.retry?.retry_after_cap_ms ?? defaultRetryPolicy.retryAfterCapMs
  }
  const cooldown: CooldownPolicy = {
    failures: wire.cooldown?.failures ?? defaultCooldownPolicy.failures,
    periodMs: wire.cooldown?.period_ms ?? defaultCooldownPolicy.periodMs
  }
  if (errors.length > 0) return Either.left(errors)
  // The revision covers which key each provider uses (by variable name), never the key itself.
  return Either.right({ revision: revisionOf(wire), providers, models, orgModels, retry, cooldown })
}

/** The models an org may use, in config order. */
export const modelsForOrg = (table: RoutingTable, orgId: string): ReadonlyArray<ModelRoute> => {
  const allowed = table.orgModels.get(orgId)
  const all = [...table.models.values()]
  return allowed === undefined ? all : all.filter((m) => allowed.has(m.name))
}

export type ModelLookup =
  | { readonly _tag: "Found"; readonly route: ModelRoute }
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "NotAllowed" }

export const lookupModel = (table: RoutingTable, orgId: string, name: string): ModelLookup => {
  const route = table.models.get(name)
  if (route === undefined) return { _tag: "NotFound" }
  const allowed = table.orgModels.get(orgId)
  if (allowed !== undefined && !allowed.has(name)) return { _tag: "NotAllowed" }
  return { _tag: "Found", route }
}

/**
 * One request's attempt order: lower priority first; within a priority, a weighted random
 * order (each pick proportional to weight among those left), so equal-priority targets share
 * load by weight and the rest are still there to fall back to.
 */
export const orderTargets = (targets: ReadonlyArray<RouteTarget>, random: () => number): ReadonlyArray<RouteTarget> => {
  if (targets.length <= 1) return targets
  const byPriority = new Map<number, Array<RouteTarget>>()
  for (const t of targets) {
    const group = byPriority.get(t.priority)
    if (group === undefined) byPriority.set(t.priority, [t])
    else group.push(t)
  }
  const out: Array<RouteTarget> = []
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const pool = [...(byPriority.get(priority) ?? [])]
    while (pool.length > 0) {
      const total = pool.reduce((s, t) => s + t.weight, 0)
      let r = random() * total
      let idx = 0
      for (; idx < pool.length - 1; idx++) {
        r -= (pool[idx] as RouteTarget).weight
        if (r < 0) break
      }
      out.push(...pool.splice(idx, 1))
    }
  }
  return out
}
