import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import fc from "fast-check"
import { ChatCompletionRequest } from "../src/chat/ChatCompletionRequest.js"
import { compileGuard } from "../src/chat/compileGuard.js"

/**
 * `compileGuard` must give Effect's own answer (`Schema.is`) on every input: the proxy trusts its
 * "yes" to forward a body unchecked by anything else. Valid requests are generated from the
 * schema's documented shapes, then some are broken at random places (a value replaced by junk, a
 * key deleted), so both answers are exercised deep inside messages, parts and tools.
 */

const str = fc.string({ maxLength: 8 })
const nonEmpty = fc.string({ minLength: 1, maxLength: 8 })
const name = fc.stringMatching(/^[a-zA-Z0-9_-]{1,64}$/)
const orNull = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 4 })
const json = fc.dictionary(str, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })

const text = fc.record({ type: fc.constant("text"), text: str })
const image = fc.record({
  type: fc.constant("image_url"),
  image_url: fc.record({ url: nonEmpty, detail: fc.constantFrom("auto", "low", "high") }, { requiredKeys: ["url"] })
})
const audio = fc.record({
  type: fc.constant("input_audio"),
  input_audio: fc.record({ data: str, format: fc.constantFrom("wav", "mp3") })
})
const file = fc.record({
  type: fc.constant("file"),
  file: fc.record({ file_data: str, file_id: str, filename: str }, { requiredKeys: [] })
})
const refusal = fc.record({ type: fc.constant("refusal"), refusal: str })
const contentOf = (part: fc.Arbitrary<object>) => fc.oneof(str, fc.array(part, { maxLength: 3 }))

const toolCall = fc.record({
  id: nonEmpty,
  type: fc.constant("function"),
  function: fc.record({ name: nonEmpty, arguments: str })
})
const message = fc.oneof(
  fc.record(
    { role: fc.constantFrom("system", "developer"), content: contentOf(text), name: str },
    { requiredKeys: ["role", "content"] }
  ),
  fc.record(
    { role: fc.constant("user"), content: contentOf(fc.oneof(text, image, audio, file)), name: str },
    { requiredKeys: ["role", "content"] }
  ),
  fc.record(
    {
      role: fc.constant("assistant"),
      content: orNull(contentOf(fc.oneof(text, refusal))),
      refusal: orNull(str),
      name: str,
      audio: orNull(fc.record({ id: str })),
      tool_calls: orNull(fc.array(toolCall, { maxLength: 2 })),
      function_call: orNull(fc.record({ name: nonEmpty, arguments: str }))
    },
    { requiredKeys: ["role"] }
  ),
  fc.record({ role: fc.constant("tool"), content: contentOf(text), tool_call_id: nonEmpty }),
  fc.record({ role: fc.constant("function"), content: orNull(str), name: nonEmpty })
)

const tool = fc.record({
  type: fc.constant("function"),
  function: fc.record(
    { name, description: str, parameters: json, strict: orNull(fc.boolean()) },
    { requiredKeys: ["name"] }
  )
})
const toolChoice = fc.oneof(
  fc.constantFrom("none", "auto", "required"),
  fc.record({ type: fc.constant("function"), function: fc.record({ name: nonEmpty }) })
)
const responseFormat = fc.oneof(
  fc.record({ type: fc.constantFrom("text", "json_object") }),
  fc.record({
    type: fc.constant("json_schema"),
    json_schema: fc.record(
      { name, description: str, schema: json, strict: orNull(fc.boolean()) },
      { requiredKeys: ["name"] }
    )
  })
)

const request = fc.record(
  {
    model: nonEmpty,
    messages: fc.array(message, { minLength: 1, maxLength: 4 }),
    temperature: orNull(fc.double({ min: 0, max: 2, noNaN: true })),
    top_p: orNull(fc.double({ min: 0, max: 1, noNaN: true })),
    n: orNull(fc.integer({ min: 1, max: 128 })),
    max_tokens: orNull(fc.integer({ min: 1 })),
    max_completion_tokens: orNull(fc.integer({ min: 1 })),
    presence_penalty: orNull(fc.double({ min: -2, max: 2, noNaN: true })),
    frequency_penalty: orNull(fc.double({ min: -2, max: 2, noNaN: true })),
    logit_bias: orNull(fc.dictionary(fc.nat().map(String), fc.integer({ min: -100, max: 100 }), { maxKeys: 3 })),
    logprobs: orNull(fc.boolean()),
    top_logprobs: orNull(fc.integer({ min: 0, max: 20 })),
    stop: orNull(fc.oneof(str, fc.array(str, { maxLength: 4 }))),
    seed: orNull(fc.integer()),
    user: orNull(str),
    stream: orNull(fc.boolean()),
    stream_options: orNull(fc.record({ include_usage: fc.boolean() }, { requiredKeys: [] })),
    tools: orNull(fc.array(tool, { maxLength: 2 })),
    tool_choice: orNull(toolChoice),
    parallel_tool_calls: orNull(fc.boolean()),
    response_format: orNull(responseFormat),
    reasoning_effort: orNull(fc.constantFrom("minimal", "low", "medium", "high")),
    metadata: orNull(fc.dictionary(str, str, { maxKeys: 3 })),
    store: orNull(fc.boolean()),
    service_tier: orNull(str),
    modalities: orNull(fc.array(fc.constantFrom("text", "audio"), { maxLength: 2 })),
    functions: orNull(
      fc.array(fc.record({ name, description: str, parameters: json }, { requiredKeys: ["name"] }), { maxLength: 2 })
    ),
    function_call: orNull(fc.oneof(fc.constantFrom("none", "auto"), fc.record({ name: nonEmpty }))),
    audio: orNull(json),
    prediction: orNull(json),
    web_search_options: orNull(json),
    x_unknown_field: fc.jsonValue({ maxDepth: 2 })
  },
  { requiredKeys: ["model", "messages"] }
)

/** Every place in a JSON value a mutation can hit: the containers and their keys. */
const slots = (value: unknown): Array<{ parent: Record<string, unknown> | Array<unknown>; key: string | number }> => {
  const out: Array<{ parent: Record<string, unknown> | Array<unknown>; key: string | number }> = []
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((child, i) => {
        out.push({ parent: v, key: i })
        walk(child)
      })
    } else if (typeof v === "object" && v !== null) {
      for (const [key, child] of Object.entries(v)) {
        out.push({ parent: v as Record<string, unknown>, key })
        walk(child)
      }
    }
  }
  walk(value)
  return out
}

const junk = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom("", -1, 0, 1.5, 3, 200, "auto", "text", "function", "user", null, [], {})
)
const mutation = fc.record({ at: fc.nat(), replaceWith: junk, remove: fc.boolean() })

const mutated = fc.tuple(request, fc.array(mutation, { maxLength: 2 })).map(([valid, mutations]) => {
  const value: unknown = structuredClone(valid)
  for (const m of mutations) {
    const all = slots(value)
    const slot = all[m.at % Math.max(all.length, 1)]
    if (slot === undefined) continue
    if (m.remove && !Array.isArray(slot.parent)) delete slot.parent[slot.key as string]
    else (slot.parent as Record<string | number, unknown>)[slot.key] = m.replaceWith
  }
  return value
})

describe("the compiled chat request guard", () => {
  const compiled = compileGuard(ChatCompletionRequest.ast)
  const effect = Schema.is(ChatCompletionRequest)

  it("answers as Schema.is on generated requests, valid and broken at random places", () => {
    let accepted = 0
    let refused = 0
    fc.assert(
      fc.property(mutated, (input) => {
        const answer = effect(input)
        expect(compiled(input)).toBe(answer)
        if (answer) accepted++
        else refused++
      }),
      { numRuns: 3_000 }
    )
    // Both answers must be common, or the property says little.
    expect(accepted).toBeGreaterThan(300)
    expect(refused).toBeGreaterThan(300)
  })

  it("answers as Schema.is on arbitrary values", () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.jsonValue()), (input) => {
        expect(compiled(input)).toBe(effect(input))
      }),
      { numRuns: 2_000 }
    )
  })

  it("falls back to Effect's guard for node kinds it does not compile, and follows suspended schemas", () => {
    interface Tree {
      readonly label: string
      readonly children: ReadonlyArray<Tree>
    }
    const Tree: Schema.Schema<Tree> = Schema.Struct({
      label: Schema.String,
      children: Schema.Array(Schema.suspend(() => Tree))
    })
    const Keyed = Schema.Record({ key: Schema.String, value: Schema.Number })
    const tree = compileGuard(Tree.ast)
    const keyed = compileGuard(Keyed.ast)
    expect(tree({ label: "a", children: [{ label: "b", children: [] }] })).toBe(true)
    expect(tree({ label: "a", children: [{ label: 1, children: [] }] })).toBe(false)
    expect(keyed({ a: 1, b: 2 })).toBe(true)
    expect(keyed({ a: 1, b: "2" })).toBe(false)
  })
})
