/** The wire format a request was addressed in, decided by its route. */
export type DialectName = "openai" | "azure-openai" | "anthropic"

export interface RecordedRequest {
  /**
   * Arrival order, from 1, never reused (reset() included); also the `<n>` in every id the
   * answer carries (chatcmpl-mock-<n>, msg_mock_<n>, call_mock_<n>, req_mock_<n>).
   */
  id: number
  method: string
  path: string
  query: Record<string, string>
  /** Lowercased names; repeated headers joined with ", ". */
  headers: Record<string, string>
  /** The parsed JSON body; the raw text when it did not parse; undefined while it is still arriving. */
  body: unknown
  receivedAt: number
  /** Set when the client's connection closed before the response ended (never for the mock's own drops). */
  abortedAt?: number
  /** Set when the whole response was handed to the socket. */
  completedAt?: number
  dialect: DialectName
}

export type MockFault =
  /** An error answer in the dialect's JSON error shape. */
  | { kind: "status"; status: number; retryAfterSeconds?: number; message?: string }
  /** Accept the request and never send headers. */
  | { kind: "hang" }
  /** Streaming: send N chunks, then go silent with the socket open. Non-streaming: as `hang`. */
  | { kind: "stall"; afterChunks: number }
  /** Destroy the socket: before headers when afterChunks is undefined, else after N chunks (non-streaming: mid-body). */
  | { kind: "drop"; afterChunks?: number }
  /** Stream chunks with this delay between them (non-streaming: the answer waits as long as the stream would take). */
  | { kind: "slow"; chunkDelayMs: number }
  /** Wait before sending headers, then answer normally. */
  | { kind: "delay"; ms: number }
  /** Streaming: send N chunks, then the provider's in-stream error event, then end. Non-streaming: as the matching status error. */
  | { kind: "stream-error"; afterChunks: number }
  /** Streaming: send N chunks, then end the body cleanly, before the stream's own end (OpenAI's `[DONE]`, Anthropic's `message_stop`). Non-streaming: as `drop` mid-body. */
  | { kind: "truncate"; afterChunks: number }
  /** A streaming request answered whole, as JSON (some compatible servers ignore `stream`). */
  | { kind: "whole" }

export interface MockUpstreamOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number
  readonly host?: string
  /** When set, requests without this key get a 401 in the dialect's shape. */
  readonly apiKey?: string
  /** Default delay between streamed chunks; 0 (the default) writes a stream in one go. */
  readonly chunkDelayMs?: number
  /** How many recent requests `requests` keeps (default 10,000), so a long benchmark does not grow without bound. */
  readonly maxRecorded?: number
}

export interface MockUpstream {
  /** http://127.0.0.1:<port> */
  readonly url: string
  readonly port: number
  /** Every request received, in arrival order (the most recent `maxRecorded`). */
  readonly requests: ReadonlyArray<RecordedRequest>
  /** Faults for the next completion requests, one per request, in order (FIFO), ahead of model-name faults. */
  enqueueFaults(...faults: MockFault[]): void
  clearFaults(): void
  /** Clears recorded requests and queued faults. */
  reset(): void
  /** Stops listening and destroys every connection, hung ones included. */
  close(): Promise<void>
  /**
   * Resolves with the first request matching `pred` whose client connection closed before the
   * response ended (one that already did counts); rejects after `timeoutMs` (default 5,000).
   */
  waitForAbort(pred?: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>
}
