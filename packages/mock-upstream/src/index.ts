/**
 * @ibex/mock-upstream: a mock LLM provider over plain node:http, for tests (through
 * `@ibex/testkit/upstream`), the local default model of `npm start`, and benchmarks. It imports
 * nothing but node built-ins.
 *
 * Routes (each answers in its provider's wire format, non-streaming and SSE streaming):
 *  - OpenAI: `POST /v1/chat/completions`, `GET /v1/models` (Authorization: Bearer <key>);
 *  - Azure OpenAI: `POST /openai/deployments/{deployment}/chat/completions?api-version=…`
 *    (api-key: <key>; the deployment is the model; no api-version → 404);
 *  - Anthropic: `POST /v1/messages` (x-api-key: <key>; no anthropic-version header → 400).
 * Anything else is a 404; a body that is not JSON a 400; both in the dialect's error shape.
 *
 * The answer is deterministic: `Mock reply to: <last user message text, first 200 chars>`. When
 * tools are offered (tool choice not "none") and the conversation ends with a user message, the
 * answer is one call to the first tool (or the one tool choice names) with input
 * `{"echo": "<last user text, first 200 chars>"}`; when it ends with a tool result, the reply is
 * `Mock reply to tool result: <its text, first 200 chars>`. Streams send the text a few words per
 * chunk and tool arguments in slices of 12 characters.
 *
 * Usage is deterministic so tests can check exact sums:
 *  - prompt/input tokens = ceil(characters of all message text, system text included, / 4);
 *  - completion/output tokens = whitespace-separated words of the reply (for a tool call, of
 *    its arguments JSON string). max_tokens (max_completion_tokens) cuts the reply at that many
 *    words, with finish_reason "length" / stop_reason "max_tokens".
 *  - Anthropic's stream reports output_tokens 1 in message_start, as Anthropic does; the total
 *    is in message_delta.
 *
 * Faults, one per completion request: queued ones (enqueueFaults) first, else by model name:
 *  - `mock-429`: 429 with Retry-After: 1
 *  - `mock-500`, `mock-502`, `mock-503`, `mock-504`, `mock-529`: that status
 *  - `mock-400`: 400 "This model's maximum context length is 8 tokens" (OpenAI shape, code
 *    context_length_exceeded; Anthropic: "prompt is too long: <n> tokens > 8 maximum")
 *  - `mock-hang`: never sends headers
 *  - `mock-stall`: streams 2 chunks then goes silent (non-streaming: hangs); `mock-stall-<n>`: after n
 *  - `mock-drop`: destroys the socket before headers; `mock-drop-<n>`: after n chunks (non-streaming: mid-body)
 *  - `mock-slow`: 50 ms between chunks; `mock-slow-<ms>`: that many ms
 *  - `mock-delay-<ms>`: waits that long before headers
 *  - `mock-stream-error`: 2 chunks then the provider's in-stream error (Anthropic `event: error`
 *    overloaded_error; OpenAI `data: {"error": …}`); non-streaming: 529 / 500; `mock-stream-error-<n>`: after n
 *  - `mock-whole`: a streaming request answered whole, as JSON (some compatible servers do)
 *  - `mock-truncate-<n>`: n chunks, then the body ends cleanly without the stream's own end
 *    (`data: [DONE]`, `message_stop`); non-streaming: cut mid-body
 * Any other model name answers normally. A "chunk" is one SSE frame (`data: [DONE]` included).
 */
export { startMockUpstream } from "./server.js"
export type { DialectName, MockFault, MockUpstream, MockUpstreamOptions, RecordedRequest } from "./types.js"
