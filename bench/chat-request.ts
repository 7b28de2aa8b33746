// Cost of validating one chat request, in process: time and bytes allocated per call for
// JSON.parse, Effect's `Schema.is`, the compiled guard, and `decodeChatCompletionRequest` (what
// the proxy runs), on the bench's 4 KB chat body, streamed (`bench/chatBody.ts`). Used in docs/PERFORMANCE.md (thirteenth
// session). Run: node --expose-gc --import tsx bench/chat-request.ts
import { ChatCompletionRequest, compileGuard, decodeChatCompletionRequest } from "@ibex/domain"
import { Schema } from "effect"
import { streamingChatBody } from "./chatBody.js"

const text = streamingChatBody
const parsed: unknown = JSON.parse(text)
const effectIs = Schema.is(ChatCompletionRequest)
const compiled = compileGuard(ChatCompletionRequest.ast)
const gc = (globalThis as { gc?: () => void }).gc

const measure = (name: string, run: () => unknown) => {
  for (let i = 0; i < 20_000; i++) run()
  const n = 200_000
  const t0 = performance.now()
  for (let i = 0; i < n; i++) run()
  const micros = ((performance.now() - t0) / n) * 1000
  // Bytes: a short run with no collection in between (run with a large young generation).
  gc?.()
  const h0 = process.memoryUsage().heapUsed
  const m = 2_000
  for (let i = 0; i < m; i++) run()
  const bytes = (process.memoryUsage().heapUsed - h0) / m
  console.log(`${name.padEnd(30)} ${micros.toFixed(2).padStart(6)} µs/call ${bytes.toFixed(0).padStart(7)} B/call`)
}

if (gc === undefined) console.log("(run with --expose-gc for the bytes column)")
console.log(`body: ${Buffer.byteLength(text)} B`)
measure("JSON.parse", () => JSON.parse(text))
measure("Schema.is (Effect)", () => effectIs(parsed))
measure("compiled guard", () => compiled(parsed))
measure("decodeChatCompletionRequest", () => decodeChatCompletionRequest(parsed))
