import type { ToolChoice, ToolDefinition } from "@ibex/domain"
import type { AnthropicTool, AnthropicToolChoice } from "./wire.js"

/**
 * OpenAI `tools`, `tool_choice` and `parallel_tool_calls` as Anthropic `tools` and
 * `tool_choice`.
 *
 * - A function's `parameters` is already a JSON Schema, which is what `input_schema` is; a
 *   function without parameters gets the empty object schema (Anthropic requires one).
 * - `strict` is dropped (as Anthropic's own compatibility layer does): the arguments are then
 *   not guaranteed to match the schema, which OpenAI also does not guarantee without it.
 * - `"required"` is Anthropic's `any`; a named function is its `tool`.
 * - `parallel_tool_calls: false` is `disable_parallel_tool_use: true`, which lives on the
 *   choice, so it implies an explicit `auto` choice when the client sent none. Anthropic's
 *   `none` choice has no such flag (no tool is called at all).
 * - Without tools, both are left out: OpenAI refuses a `tool_choice` without `tools`, and
 *   "no tools" already means no tool is called.
 */

export interface TranslatedTools {
  readonly tools?: ReadonlyArray<AnthropicTool>
  readonly tool_choice?: AnthropicToolChoice
}

const emptyObjectSchema: Readonly<Record<string, unknown>> = { type: "object", properties: {} }

const tool = (definition: ToolDefinition): AnthropicTool => {
  const fn = definition.function
  return {
    name: fn.name,
    ...(fn.description !== undefined ? { description: fn.description } : {}),
    input_schema: fn.parameters ?? emptyObjectSchema
  }
}

const choice = (
  toolChoice: ToolChoice | null | undefined,
  disableParallel: boolean
): AnthropicToolChoice | undefined => {
  const flag = disableParallel ? { disable_parallel_tool_use: true } : {}
  if (toolChoice === undefined || toolChoice === null) return disableParallel ? { type: "auto", ...flag } : undefined
  switch (toolChoice) {
    case "none":
      return { type: "none" }
    case "auto":
      return { type: "auto", ...flag }
    case "required":
      return { type: "any", ...flag }
    default:
      return { type: "tool", name: toolChoice.function.name, ...flag }
  }
}

export const translateTools = (
  tools: ReadonlyArray<ToolDefinition> | null | undefined,
  toolChoice: ToolChoice | null | undefined,
  parallelToolCalls: boolean | null | undefined
): TranslatedTools => {
  if (tools === undefined || tools === null || tools.length === 0) return {}
  const picked = choice(toolChoice, parallelToolCalls === false)
  return { tools: tools.map(tool), ...(picked !== undefined ? { tool_choice: picked } : {}) }
}
