import {
  DEFAULT_IMAGE_INPUT_TOKENS,
  type ModelPricing,
  monthOf,
  type Principal,
  type RouteTarget,
  type Usage,
  UsageRecord,
  type UsageReservation
} from "@ibex/domain"
import { Option } from "effect"
import type { ChatIntent } from "./chatRequest.js"

/**
 * What a request reserves when neither `max_completion_tokens` nor `max_tokens` caps its
 * answer. Documented in docs/USAGE.md: a client that wants a smaller reservation (so more of
 * its requests fit in a token limit or a budget at once) sets a cap.
 */
export const DEFAULT_OUTPUT_RESERVATION = 4_096

/**
 * A prompt's reservation before any tokenizer runs: one token per 3 bytes of the request body
 * (JSON included), above what tokenizers count for text (about 4 bytes a token), so the
 * reservation bounds the prompt rather than guesses it. Settling corrects it.
 */
export const promptReservation = (bodyBytes: number): number => Math.ceil(bodyBytes / 3)

/** Image parts in the request's messages: each costs the provider far more than its bytes say. */
export const imageParts = (body: ChatIntent["body"]): number => {
  let images = 0
  for (const message of body.messages) {
    const content = (message as { readonly content?: unknown }).content
    if (Array.isArray(content))
      for (const part of content) if ((part as { readonly type?: unknown }).type === "image_url") images++
  }
  return images
}

const outputCap = (body: ChatIntent["body"]): number => {
  const cap = body.max_completion_tokens ?? body.max_tokens
  return typeof cap === "number" && cap > 0 ? cap : DEFAULT_OUTPUT_RESERVATION
}

/** Micro-USD: a price per million tokens in USD is exactly micro-USD per token. */
export const costOf = (usage: Usage, pricing: Option.Option<ModelPricing>): number =>
  Option.match(pricing, {
    onNone: () => 0,
    onSome: (p) => {
      const cached = Math.min(usage.cachedTokens, usage.promptTokens)
      return Math.ceil(
        (usage.promptTokens - cached) * p.inputPerMillion +
          cached * p.cachedInputPerMillion +
          usage.completionTokens * p.outputPerMillion
      )
    }
  })

export const reservationFor = (
  principal: Principal,
  intent: ChatIntent,
  bodyBytes: number,
  pricing: Option.Option<ModelPricing>,
  nowMs: number
): UsageReservation => {
  const perImage = Option.match(pricing, {
    onNone: () => DEFAULT_IMAGE_INPUT_TOKENS,
    onSome: (p) => p.imageInputTokens
  })
  const prompt = promptReservation(bodyBytes) + imageParts(intent.body) * perImage
  const output = outputCap(intent.body) * (typeof intent.body.n === "number" ? intent.body.n : 1)
  return {
    orgId: principal.orgId,
    tokens: prompt + output,
    tokensPerMinute: principal.tokensPerMinute,
    costMicroUsd: costOf(
      { promptTokens: prompt, completionTokens: output, cachedTokens: 0, totalTokens: prompt + output },
      pricing
    ),
    monthlyBudgetMicroUsd: principal.monthlyBudgetMicroUsd,
    month: monthOf(nowMs)
  }
}

/** What the forward stage learned, for settling and for the usage record. */
export interface Meter {
  /** The last target tried: the one that served the answer, or the last to fail. */
  target: RouteTarget | undefined
  usage: Option.Option<Usage>
  estimated: boolean
  firstChunkMs: number | undefined
  /** When the last attempt started (`performance.now()`): the provider's own time to first chunk counts from there. */
  attemptStarted: number | undefined
}

export const newMeter = (): Meter => ({
  target: undefined,
  usage: Option.none(),
  estimated: false,
  firstChunkMs: undefined,
  attemptStarted: undefined
})

export const usageRecordOf = (input: {
  readonly id: string
  readonly principal: Principal
  readonly agentId: string
  readonly intent: ChatIntent
  readonly target: RouteTarget
  readonly usage: Usage
  readonly estimated: boolean
  readonly costMicroUsd: number
  readonly status: number
  readonly latencyMs: number
  readonly firstChunkMs: number | undefined
}): UsageRecord =>
  // Built from typed values on every forwarded request: not validated again (the store validates what it receives).
  new UsageRecord(
    {
      requestId: input.id,
      orgId: input.principal.orgId,
      agentId: input.agentId,
      tokenId: input.principal.tokenId,
      model: input.intent.model,
      provider: input.target.provider.id,
      upstreamModel: input.target.model,
      promptTokens: input.usage.promptTokens,
      completionTokens: input.usage.completionTokens,
      cachedTokens: input.usage.cachedTokens,
      estimated: input.estimated,
      costMicroUsd: input.costMicroUsd,
      status: input.status,
      latencyMs: Math.max(0, Math.round(input.latencyMs)),
      timeToFirstTokenMs: input.firstChunkMs === undefined ? null : Math.max(0, Math.round(input.firstChunkMs)),
      stream: input.intent.stream,
      // When the request arrived (the record is made as it ends): the month its reservation
      // counted against, and what the ledger's reports mean by "when".
      createdAt: new Date(Date.now() - Math.max(0, input.latencyMs))
    },
    true
  )
