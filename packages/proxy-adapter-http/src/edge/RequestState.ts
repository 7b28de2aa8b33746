import { randomBytes } from "node:crypto"
import { type RateLimitDecision, uuidv7 } from "@ibex/domain"

/** What the stages learn about one request, read by the response headers, the access log and metrics. */
export interface RequestState {
  readonly requestId: string
  traceId: string
  readonly started: number
  readonly method: string
  template: string
  status: number
  orgId: string | undefined
  errorCode: string | undefined
  /** Set once the limiter decided; rate-limit headers follow it. */
  rate: RateLimitDecision | undefined
  /** Extra response headers a stage decided (where a request went, the provider's request id). */
  extraHeaders: Record<string, string> | undefined
  /** Fields for the access log line a stage wants recorded (provider, model, attempts). */
  logFields: Record<string, unknown> | undefined
}

const randomPool = { buf: Buffer.alloc(0), offset: 0 }
const randomSlice = (n: number): Uint8Array => {
  if (randomPool.offset + n > randomPool.buf.length) {
    randomPool.buf = randomBytes(4096)
    randomPool.offset = 0
  }
  const out = randomPool.buf.subarray(randomPool.offset, randomPool.offset + n)
  randomPool.offset += n
  return out
}

export const newRequestId = (): string => uuidv7(Date.now(), randomSlice(10))
export const randomTraceId = (): string => Buffer.from(randomSlice(16)).toString("hex")

export const newRequestState = (requestId: string, method: string, started: number): RequestState => ({
  requestId,
  traceId: "",
  started,
  method,
  template: "unmatched",
  status: 0,
  orgId: undefined,
  errorCode: undefined,
  rate: undefined,
  extraHeaders: undefined,
  logFields: undefined
})

export const addHeader = (state: RequestState, name: string, value: string): void => {
  if (state.extraHeaders === undefined) state.extraHeaders = {}
  state.extraHeaders[name] = value
}

export const addLogField = (state: RequestState, name: string, value: unknown): void => {
  if (state.logFields === undefined) state.logFields = {}
  state.logFields[name] = value
}
