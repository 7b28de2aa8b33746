import { SchemaAST as AST, Either, ParseResult, Predicate, Schema } from "effect"
import { FieldError } from "../FieldError.js"
import { compileGuard, type Guard, GuardId } from "./compileGuard.js"

/**
 * The OpenAI Chat Completions request body (POST /v1/chat/completions), as the proxy accepts it.
 *
 * What this module guarantees:
 * - every documented field is checked against its documented type and range;
 * - unknown fields (top level, inside messages, inside content parts, ...) are kept in the
 *   decoded value, because providers grow fields faster than we do and the proxy forwards them;
 * - decoding is total and reports every problem as a `FieldError` whose message says what was
 *   expected and never repeats what the client sent.
 *
 * Messages come from `Expected` annotations on the schemas below, never from Effect's default
 * messages (those print the actual value).
 */

// ---------------------------------------------------------------------------------------------
// Annotations that carry our client-facing messages
// ---------------------------------------------------------------------------------------------

/** "What was expected" for a field: used for every failure located at that field's own path. */
const ExpectedId: unique symbol = Symbol.for("@ibex/domain/chat/Expected")
/** The one message a cross-field filter of ours reports (at the path the filter names). */
const FilterMessageId: unique symbol = Symbol.for("@ibex/domain/chat/FilterMessage")

const expected = (message: string) => ({ [ExpectedId]: message })

const stringAnnotation = (ast: AST.AST, id: symbol): string | undefined => {
  const value = ast.annotations[id]
  return typeof value === "string" ? value : undefined
}

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

/** Optional key: absent is fine, `undefined` is not (JSON has no undefined). */
const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** Optional key that may also be `null`, which OpenAI treats as "not set" for most parameters. */
const nullable = <S extends Schema.Schema.All>(schema: S, message: string) =>
  Schema.optionalWith(Schema.NullOr(schema).annotations(expected(message)), { exact: true })

const isJsonObject = (u: unknown): u is Readonly<Record<string, unknown>> => Predicate.isRecord(u)

const Str = Schema.String.annotations(expected("must be a string"))
const NonEmptyStr = Schema.String.pipe(Schema.filter((s) => s.length > 0)).annotations(
  expected("must be a non-empty string")
)
const Bool = Schema.Boolean.annotations(expected("must be a boolean"))

/** A guard annotation for a declaration whose predicate is the whole rule. */
const guardedBy = (guard: Guard) => ({ [GuardId]: () => guard })

/** A JSON object passed through as-is (not copied, not inspected). */
const JsonObject = Schema.declare(isJsonObject, { ...expected("must be an object"), ...guardedBy(isJsonObject) })

const numberBetween = (min: number, max: number) =>
  Schema.Number.pipe(Schema.filter((n) => Number.isFinite(n) && n >= min && n <= max)).annotations(
    expected(`must be a number between ${min} and ${max}`)
  )

const integerBetween = (min: number, max: number) =>
  Schema.Number.pipe(Schema.filter((n) => Number.isSafeInteger(n) && n >= min && n <= max)).annotations(
    expected(`must be an integer between ${min} and ${max}`)
  )

const positiveInteger = Schema.Number.pipe(Schema.filter((n) => Number.isSafeInteger(n) && n >= 1)).annotations(
  expected("must be an integer of at least 1")
)

/** OpenAI seeds are int64; JSON numbers beyond 2^53 arrive rounded but still integral. */
const AnyInteger = Schema.Number.pipe(Schema.filter((n) => Number.isInteger(n))).annotations(
  expected("must be an integer")
)

const FunctionNamePattern = /^[a-zA-Z0-9_-]{1,64}$/
const FunctionName = Schema.String.pipe(Schema.filter((s) => FunctionNamePattern.test(s))).annotations(
  expected("must be 1 to 64 characters of a-z, A-Z, 0-9, underscore or dash")
)

/**
 * A union of objects told apart by one string key (`role`, `type`). Effect's own union lookup
 * calls `String()` on the discriminator value, which throws on an object such as
 * `{"toString": 1}` that any JSON client can send; this dispatch only compares strings, and it
 * reports a bad or missing discriminator at the discriminator's own path.
 */
const discriminated = <const M extends Readonly<Record<string, Schema.Schema.AnyNoContext>>>(
  key: string,
  members: M,
  message: string
) => {
  type A = Schema.Schema.Type<M[keyof M]>
  type I = Schema.Schema.Encoded<M[keyof M]>
  const tags = Object.keys(members)
  const tagAst = AST.Union.make(tags.map((tag) => new AST.Literal(tag)))
  const tagSignature = new AST.PropertySignature(key, tagAst, false, true)
  const decoders = new Map(
    tags.map((tag) => [tag, ParseResult.decodeUnknownEither(members[tag] as Schema.Schema.AnyNoContext)] as const)
  )
  const encoders = new Map(
    tags.map((tag) => [tag, ParseResult.encodeUnknownEither(members[tag] as Schema.Schema.AnyNoContext)] as const)
  )
  const dispatch =
    <Out>(
      run: ReadonlyMap<string, (u: unknown, options?: AST.ParseOptions) => Either.Either<Out, ParseResult.ParseIssue>>
    ) =>
    (input: unknown, options: AST.ParseOptions, ast: AST.Declaration) => {
      if (!isJsonObject(input)) return ParseResult.fail(new ParseResult.Type(ast, input))
      if (!Object.hasOwn(input, key)) {
        return ParseResult.fail(new ParseResult.Pointer(key, input, new ParseResult.Missing(tagSignature)))
      }
      const tag = input[key]
      const member = typeof tag === "string" ? run.get(tag) : undefined
      if (member === undefined) {
        return ParseResult.fail(new ParseResult.Pointer(key, input, new ParseResult.Type(tagAst, tag)))
      }
      return member(input, options)
    }
  const guard = (compile: (ast: AST.AST) => Guard): Guard => {
    const guards = new Map(
      tags.map((tag) => [tag, compile(AST.typeAST((members[tag] as Schema.Schema.AnyNoContext).ast))] as const)
    )
    return (u) => {
      if (!isJsonObject(u) || !Object.hasOwn(u, key)) return false
      const tag = u[key]
      const member = typeof tag === "string" ? guards.get(tag) : undefined
      return member?.(u) === true
    }
  }
  return Schema.declare<A, I, readonly []>(
    [],
    { decode: () => dispatch<A>(decoders), encode: () => dispatch<I>(encoders) },
    { ...expected(message), [GuardId]: guard }
  )
}

// ---------------------------------------------------------------------------------------------
// Content parts
// ---------------------------------------------------------------------------------------------

export const TextContentPart = Schema.Struct({ type: Schema.Literal("text"), text: Str })
export type TextContentPart = typeof TextContentPart.Type

export const ImageContentPart = Schema.Struct({
  type: Schema.Literal("image_url"),
  image_url: Schema.Struct({
    url: NonEmptyStr,
    detail: optional(Schema.Literal("auto", "low", "high").annotations(expected('must be "auto", "low" or "high"')))
  }).annotations(expected("must be an object"))
})
export type ImageContentPart = typeof ImageContentPart.Type

export const AudioContentPart = Schema.Struct({
  type: Schema.Literal("input_audio"),
  input_audio: Schema.Struct({
    data: Str,
    format: Schema.Literal("wav", "mp3").annotations(expected('must be "wav" or "mp3"'))
  }).annotations(expected("must be an object"))
})
export type AudioContentPart = typeof AudioContentPart.Type

export const FileContentPart = Schema.Struct({
  type: Schema.Literal("file"),
  file: Schema.Struct({
    file_data: optional(Str),
    file_id: optional(Str),
    filename: optional(Str)
  }).annotations(expected("must be an object"))
})
export type FileContentPart = typeof FileContentPart.Type

export const RefusalContentPart = Schema.Struct({ type: Schema.Literal("refusal"), refusal: Str })
export type RefusalContentPart = typeof RefusalContentPart.Type

const partExpected = "must be a content part object with a supported type"

const TextOnlyPart = discriminated("type", { text: TextContentPart }, partExpected)
const UserPart = discriminated(
  "type",
  { text: TextContentPart, image_url: ImageContentPart, input_audio: AudioContentPart, file: FileContentPart },
  partExpected
)
const AssistantPart = discriminated("type", { text: TextContentPart, refusal: RefusalContentPart }, partExpected)

const contentOf = <P extends Schema.Schema.AnyNoContext>(part: P) =>
  Schema.Union(Str, Schema.Array(part)).annotations(expected("must be a string or an array of content parts"))

const TextContent = contentOf(TextOnlyPart)
const UserContent = contentOf(UserPart)
const AssistantContent = contentOf(AssistantPart)

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

export const ToolCall = Schema.Struct({
  id: NonEmptyStr,
  type: Schema.Literal("function").annotations(expected('must be "function"')),
  function: Schema.Struct({ name: NonEmptyStr, arguments: Str }).annotations(expected("must be an object"))
}).annotations(expected("must be a tool call object"))
export type ToolCall = typeof ToolCall.Type

const FunctionCall = Schema.Struct({ name: NonEmptyStr, arguments: Str }).annotations(expected("must be an object"))

export const SystemMessage = Schema.Struct({
  role: Schema.Literal("system"),
  content: TextContent,
  name: optional(Str)
})
export type SystemMessage = typeof SystemMessage.Type

export const DeveloperMessage = Schema.Struct({
  role: Schema.Literal("developer"),
  content: TextContent,
  name: optional(Str)
})
export type DeveloperMessage = typeof DeveloperMessage.Type

export const UserMessage = Schema.Struct({
  role: Schema.Literal("user"),
  content: UserContent,
  name: optional(Str)
})
export type UserMessage = typeof UserMessage.Type

const assistantContentRequired = "is required unless tool_calls or function_call is present"

export const AssistantMessage = Schema.Struct({
  role: Schema.Literal("assistant"),
  content: nullable(AssistantContent, "must be a string, an array of content parts, or null"),
  refusal: nullable(Str, "must be a string or null"),
  name: optional(Str),
  audio: nullable(
    Schema.Struct({ id: Str }).annotations(expected("must be an object")),
    "must be an object with an id, or null"
  ),
  tool_calls: nullable(
    Schema.Array(ToolCall).annotations(expected("must be an array of tool calls")),
    "must be an array of tool calls, or null"
  ),
  function_call: nullable(FunctionCall, "must be an object with name and arguments, or null")
}).pipe(
  Schema.filter(
    (m) =>
      (m.content !== undefined && m.content !== null) ||
      (m.tool_calls !== undefined && m.tool_calls !== null && m.tool_calls.length > 0) ||
      (m.function_call !== undefined && m.function_call !== null) || {
        path: ["content"],
        message: assistantContentRequired
      },
    { [FilterMessageId]: assistantContentRequired }
  )
)
export type AssistantMessage = typeof AssistantMessage.Type

export const ToolMessage = Schema.Struct({
  role: Schema.Literal("tool"),
  content: TextContent,
  tool_call_id: NonEmptyStr
})
export type ToolMessage = typeof ToolMessage.Type

/** Deprecated by OpenAI in favour of `tool`, still accepted by the API. */
export const FunctionMessage = Schema.Struct({
  role: Schema.Literal("function"),
  content: Schema.NullOr(Str).annotations(expected("must be a string or null")),
  name: NonEmptyStr
})
export type FunctionMessage = typeof FunctionMessage.Type

export const ChatMessage = discriminated(
  "role",
  {
    system: SystemMessage,
    developer: DeveloperMessage,
    user: UserMessage,
    assistant: AssistantMessage,
    tool: ToolMessage,
    function: FunctionMessage
  },
  "must be a message object with a role"
)
export type ChatMessage = typeof ChatMessage.Type

// ---------------------------------------------------------------------------------------------
// Tools and response formats
// ---------------------------------------------------------------------------------------------

export const ToolDefinition = Schema.Struct({
  type: Schema.Literal("function").annotations(expected('must be "function"')),
  function: Schema.Struct({
    name: FunctionName,
    description: optional(Str),
    parameters: optional(JsonObject),
    strict: nullable(Bool, "must be a boolean or null")
  }).annotations(expected("must be an object"))
}).annotations(expected("must be a tool object"))
export type ToolDefinition = typeof ToolDefinition.Type

const NamedToolChoice = Schema.Struct({
  type: Schema.Literal("function"),
  function: Schema.Struct({ name: NonEmptyStr }).annotations(expected("must be an object with a name"))
})

export const ToolChoice = Schema.Union(
  Schema.Literal("none", "auto", "required"),
  discriminated("type", { function: NamedToolChoice }, "must be a tool choice object")
).annotations(expected('must be "none", "auto", "required" or a tool choice object'))
export type ToolChoice = typeof ToolChoice.Type

const LegacyFunctionDefinition = Schema.Struct({
  name: FunctionName,
  description: optional(Str),
  parameters: optional(JsonObject)
}).annotations(expected("must be a function object"))

const LegacyFunctionChoice = Schema.Union(
  Schema.Literal("none", "auto"),
  Schema.Struct({ name: NonEmptyStr }).annotations(expected("must be an object with a name"))
).annotations(expected('must be "none", "auto" or an object with a name'))

export const ResponseFormat = discriminated(
  "type",
  {
    text: Schema.Struct({ type: Schema.Literal("text") }),
    json_object: Schema.Struct({ type: Schema.Literal("json_object") }),
    json_schema: Schema.Struct({
      type: Schema.Literal("json_schema"),
      json_schema: Schema.Struct({
        name: FunctionName,
        description: optional(Str),
        schema: optional(JsonObject),
        strict: nullable(Bool, "must be a boolean or null")
      }).annotations(expected("must be an object"))
    })
  },
  "must be a response format object"
)
export type ResponseFormat = typeof ResponseFormat.Type

const Stop = Schema.Union(Str, Schema.Array(Str).pipe(Schema.maxItems(4)))

const isLogitBias = (u: unknown): u is Readonly<Record<string, number>> =>
  isJsonObject(u) && Object.values(u).every((v) => typeof v === "number" && v >= -100 && v <= 100)
const LogitBias = Schema.declare(isLogitBias, guardedBy(isLogitBias))
const isMetadata = (u: unknown): u is Readonly<Record<string, string>> =>
  isJsonObject(u) && Object.values(u).every((v) => typeof v === "string")
const Metadata = Schema.declare(isMetadata, guardedBy(isMetadata))

// ---------------------------------------------------------------------------------------------
// The request
// ---------------------------------------------------------------------------------------------

export const ChatCompletionRequest = Schema.Struct({
  model: NonEmptyStr,
  messages: Schema.Array(ChatMessage)
    .pipe(Schema.minItems(1))
    .annotations(expected("must be a non-empty array of messages")),
  temperature: nullable(numberBetween(0, 2), "must be a number between 0 and 2, or null"),
  top_p: nullable(numberBetween(0, 1), "must be a number between 0 and 1, or null"),
  n: nullable(integerBetween(1, 128), "must be an integer between 1 and 128, or null"),
  max_tokens: nullable(positiveInteger, "must be an integer of at least 1, or null"),
  max_completion_tokens: nullable(positiveInteger, "must be an integer of at least 1, or null"),
  presence_penalty: nullable(numberBetween(-2, 2), "must be a number between -2 and 2, or null"),
  frequency_penalty: nullable(numberBetween(-2, 2), "must be a number between -2 and 2, or null"),
  logit_bias: nullable(LogitBias, "must be an object mapping token ids to numbers between -100 and 100, or null"),
  logprobs: nullable(Bool, "must be a boolean or null"),
  top_logprobs: nullable(integerBetween(0, 20), "must be an integer between 0 and 20, or null"),
  stop: nullable(Stop, "must be a string, an array of at most 4 strings, or null"),
  seed: nullable(AnyInteger, "must be an integer or null"),
  user: nullable(Str, "must be a string or null"),
  stream: nullable(Bool, "must be a boolean or null"),
  stream_options: nullable(
    Schema.Struct({ include_usage: optional(Bool) }),
    "must be an object with an optional boolean include_usage, or null"
  ),
  tools: nullable(Schema.Array(ToolDefinition), "must be an array of tool objects, or null"),
  tool_choice: nullable(ToolChoice, 'must be "none", "auto", "required", a tool choice object, or null'),
  parallel_tool_calls: nullable(Bool, "must be a boolean or null"),
  response_format: nullable(ResponseFormat, "must be a response format object or null"),
  reasoning_effort: nullable(
    Schema.Literal("minimal", "low", "medium", "high"),
    'must be "minimal", "low", "medium", "high", or null'
  ),
  metadata: nullable(Metadata, "must be an object whose values are strings, or null"),
  store: nullable(Bool, "must be a boolean or null"),
  service_tier: nullable(Str, "must be a string or null"),
  modalities: nullable(
    Schema.Array(Schema.Literal("text", "audio").annotations(expected('must be "text" or "audio"'))),
    'must be an array of "text" or "audio", or null'
  ),
  functions: nullable(Schema.Array(LegacyFunctionDefinition), "must be an array of function objects, or null"),
  function_call: nullable(LegacyFunctionChoice, 'must be "none", "auto", an object with a name, or null'),
  audio: nullable(JsonObject, "must be an object or null"),
  prediction: nullable(JsonObject, "must be an object or null"),
  web_search_options: nullable(JsonObject, "must be an object or null")
}).annotations(expected("must be a JSON object"))

/**
 * A validated request. At runtime the object also carries every field the client sent that is
 * not listed here (at the top level and inside nested objects), for forwarding to providers.
 */
export type ChatCompletionRequest = typeof ChatCompletionRequest.Type

// ---------------------------------------------------------------------------------------------
// ParseIssue -> FieldError
// ---------------------------------------------------------------------------------------------

const fieldOf = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0 ? "body" : path.map((seg) => (typeof seg === "symbol" ? "?" : String(seg))).join(".")

const isMany = <T>(x: T | readonly [T, ...Array<T>]): x is readonly [T, ...Array<T>] => Array.isArray(x)

const hasPointer = (issue: ParseResult.ParseIssue): boolean => {
  switch (issue._tag) {
    case "Pointer":
      return true
    case "Composite":
      return isMany(issue.issues) ? issue.issues.some(hasPointer) : hasPointer(issue.issues)
    case "Refinement":
    case "Transformation":
      return hasPointer(issue.issue)
    default:
      return false
  }
}

const literalList = (values: ReadonlyArray<AST.LiteralValue>): string =>
  values.map((v) => (typeof v === "string" ? JSON.stringify(v) : String(v))).join(", ")

/** Last-resort wording from the schema alone (never from the value); every field we own is annotated. */
const describe = (ast: AST.AST): string => {
  switch (ast._tag) {
    case "Literal":
      return `must be ${literalList([ast.literal])}`
    case "Union": {
      const literals = ast.types.flatMap((t) => (AST.isLiteral(t) ? [t.literal] : []))
      return literals.length === ast.types.length ? `must be one of ${literalList(literals)}` : "has an invalid value"
    }
    case "StringKeyword":
      return "must be a string"
    case "NumberKeyword":
      return "must be a number"
    case "BooleanKeyword":
      return "must be a boolean"
    case "TypeLiteral":
      return "must be an object"
    case "TupleType":
      return "must be an array"
    default:
      return "has an invalid value"
  }
}

const leafMessage = (ast: AST.AST): string =>
  stringAnnotation(ast, ExpectedId) ?? stringAnnotation(ast, FilterMessageId) ?? describe(ast)

/**
 * Turns a parse issue tree into (path, message) pairs. A schema's `Expected` message speaks for
 * every failure at its own path (so a nullable number that got a string reports once, not once
 * per union member); failures deeper down are reported at their own paths. For a union, members
 * that matched the value's shape well enough to fail deeper win over members that did not.
 */
const collect = (
  issue: ParseResult.ParseIssue,
  path: ReadonlyArray<PropertyKey>,
  out: Array<{ field: string; message: string }>
): void => {
  switch (issue._tag) {
    case "Pointer": {
      const segments: ReadonlyArray<PropertyKey> = isMany(issue.path) ? issue.path : [issue.path]
      collect(issue.issue, [...path, ...segments], out)
      return
    }
    case "Missing":
      out.push({ field: fieldOf(path), message: "is required" })
      return
    case "Unexpected":
      out.push({ field: fieldOf(path), message: "is not allowed" })
      return
    case "Type":
    case "Forbidden":
      out.push({ field: fieldOf(path), message: leafMessage(issue.ast) })
      return
    case "Composite":
    case "Refinement":
    case "Transformation": {
      const own = stringAnnotation(issue.ast, ExpectedId)
      if (own !== undefined && !hasPointer(issue)) {
        out.push({ field: fieldOf(path), message: own })
        return
      }
      if (issue._tag !== "Composite") {
        collect(issue.issue, path, out)
        return
      }
      let children: ReadonlyArray<ParseResult.ParseIssue> = isMany(issue.issues) ? issue.issues : [issue.issues]
      if (AST.isUnion(issue.ast)) {
        const deep = children.filter(hasPointer)
        if (deep.length > 0) children = deep
      }
      for (const child of children) collect(child, path, out)
      return
    }
  }
}

const isSet = (input: Readonly<Record<string, unknown>>, key: string): boolean =>
  Object.hasOwn(input, key) && input[key] !== null && input[key] !== undefined

const noErrors: ReadonlyArray<{ field: string; message: string }> = []

/** Rules that span fields, checked on the raw body so they are reported next to all other errors. */
const crossFieldErrors = (input: unknown): ReadonlyArray<{ field: string; message: string }> => {
  if (!isJsonObject(input)) return noErrors
  const streamOptions = isSet(input, "stream_options") && input.stream !== true
  const topLogprobs = isSet(input, "top_logprobs") && input.logprobs !== true
  if (!streamOptions && !topLogprobs) return noErrors
  const errors: Array<{ field: string; message: string }> = []
  if (streamOptions) errors.push({ field: "stream_options", message: "is only allowed when stream is true" })
  if (topLogprobs) errors.push({ field: "top_logprobs", message: "is only allowed when logprobs is true" })
  return errors
}

/** Objects a walk without a visited set goes through before it assumes a cycle and starts over with one. */
const walkWithoutSet = 1_024

/**
 * Deeper than any request OpenAI defines (a tool's JSON schema included). A body nested deeper
 * (JSON.parse takes 5,000 levels in 10 KB) is refused here, before code that recurses into the
 * body (the upstream serializer, a dialect's translation) overflows the stack on it.
 */
export const MAX_REQUEST_NESTING = 100

/**
 * No OpenAI field is called `__proto__`, and an own `__proto__` key turns into a prototype swap
 * as soon as some later code copies the object with assignment (`Object.assign`, naive merges),
 * smuggling in fields nobody validated. Such a body is refused here, at the boundary, and so is
 * one nested deeper than `MAX_REQUEST_NESTING`. Iterative, so a deeply nested body cannot
 * overflow the stack. JSON has no cycles, so a request body's walk needs no visited set
 * (allocated per request, it was most of this check's cost); an in-process value with a cycle, a
 * very large body or a too deep one outgrows `walkWithoutSet` or the bound and is walked again
 * with one.
 */
const shapeOf = (input: unknown): Shape => {
  if (typeof input !== "object" || input === null) return "plain"
  const answer = shapeWalk(input, walkWithoutSet)
  return answer === "unknown" ? shapeWalk(input, Number.POSITIVE_INFINITY, new Set()) : answer
}

type Shape = "plain" | "protoKey" | "tooDeep" | "unknown"

const shapeWalk = (root: object, budget: number, seen?: Set<object>): Shape => {
  const stack: Array<object> = [root]
  // The depth of each value on `stack`, the root being 1.
  const depths: Array<number> = [1]
  let visited = 0
  while (stack.length > 0) {
    const value = stack.pop() as object
    const depth = depths.pop() as number
    if (seen !== undefined) {
      if (seen.has(value)) continue
      seen.add(value)
    }
    if (++visited > budget) return "unknown"
    // Without a visited set an in-process cycle looks endlessly deep too: only a walk with one can tell.
    if (depth > MAX_REQUEST_NESTING) return seen === undefined ? "unknown" : "tooDeep"
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const child: unknown = value[i]
        if (typeof child === "object" && child !== null) {
          stack.push(child)
          depths.push(depth + 1)
        }
      }
      continue
    }
    if (Object.hasOwn(value, "__proto__")) return "protoKey"
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue
      const child: unknown = (value as Record<string, unknown>)[key]
      if (typeof child === "object" && child !== null) {
        stack.push(child)
        depths.push(depth + 1)
      }
    }
  }
  return "plain"
}

/**
 * Every schema above only checks (none transforms), so a value that passes is already the
 * request: it is returned as is, not copied. That is what keeps unknown fields, at every level,
 * for forwarding; and it is faster than having Effect rebuild the object key by key. The guard
 * is compiled from the schema (`compileGuard.ts`); only a refused body runs Effect's parser, for
 * its field errors.
 */
const isRequest = compileGuard(ChatCompletionRequest.ast) as (u: unknown) => u is ChatCompletionRequest
const decodeAll = ParseResult.decodeUnknownEither(ChatCompletionRequest, { errors: "all", exact: true })

const toFieldErrors = (raw: ReadonlyArray<{ field: string; message: string }>): ReadonlyArray<FieldError> => {
  const seen = new Set<string>()
  const result: Array<FieldError> = []
  for (const { field, message } of raw) {
    const key = `${field}\u0000${message}`
    if (seen.has(key)) continue
    seen.add(key)
    result.push(new FieldError({ field, message }))
  }
  return result
}

/**
 * Validates an already JSON-parsed request body. Total: any input gives either the request
 * (the input object itself, so unknown fields are kept) or every field error found, each
 * addressed by a dotted path (`messages.2.content`; "body" for the whole body). Fields a
 * non-JSON caller hides in an object's prototype are not seen; JSON.parse never makes those.
 */
export const decodeChatCompletionRequest = (
  input: unknown
): Either.Either<ChatCompletionRequest, ReadonlyArray<FieldError>> => {
  try {
    const shape = shapeOf(input)
    if (shape === "tooDeep")
      return Either.left([
        new FieldError({ field: "body", message: `is nested deeper than ${MAX_REQUEST_NESTING} levels` })
      ])
    const crossField = crossFieldErrors(input)
    const protoKey = shape === "protoKey"
    if (crossField.length === 0 && !protoKey && isRequest(input)) return Either.right(input)
    const raw: Array<{ field: string; message: string }> = []
    const decoded = decodeAll(input)
    if (Either.isLeft(decoded)) collect(decoded.left, [], raw)
    raw.push(...crossField)
    if (protoKey) raw.push({ field: "body", message: 'must not contain a "__proto__" key' })
    // `raw` is never empty here (the type guard and the full decode agree); the fallback keeps the function total.
    return Either.left(
      raw.length > 0 ? toFieldErrors(raw) : [new FieldError({ field: "body", message: "is not a valid request" })]
    )
  } catch {
    // Only exotic in-process values (proxies, throwing getters) can get here; JSON cannot.
    return Either.left([new FieldError({ field: "body", message: "could not be read as a request" })])
  }
}

// ---------------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------------

/** A request with one spelling for each choice that OpenAI lets clients spell several ways. */
export type NormalizedChatCompletionRequest = Omit<ChatCompletionRequest, "stop" | "stream"> & {
  readonly stop?: ReadonlyArray<string>
  readonly stream: boolean
}

/**
 * Code after validation (streaming vs buffered response handling, provider adapters, usage
 * accounting) should branch on intent, not on which of OpenAI's equivalent spellings a client
 * used: absent / null / false all mean "do not stream", and a single stop string means the same
 * as a one-element list. Nothing else is touched (no trimming, content strings stay strings,
 * unknown fields stay), so what we forward is still what the client meant.
 */
export const normalizeChatCompletionRequest = (request: ChatCompletionRequest): NormalizedChatCompletionRequest => {
  const { stop, stream, ...rest } = request
  const base = { ...rest, stream: stream === true }
  if (stop === undefined || stop === null) return base
  return { ...base, stop: typeof stop === "string" ? [stop] : stop }
}
