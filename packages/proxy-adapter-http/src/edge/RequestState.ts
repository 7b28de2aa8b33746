import { randomBytes } from "node:crypto"
import { type RateLimitDecision, uuidv7FromHex } from "@ibex/domain"

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
  /** The request has ended (usage recorded, access line written): the drain stops waiting for it. */
  finished: boolean
}

// Random hex digits drawn from the OS in blocks: a request takes its ids as slices of one string.
const HEX_BLOCK_BYTES = 4096
let randomHex = ""
let hexOffset = 0
const randomDigits = (n: number): string => {
  if (hexOffset + n > randomHex.length) {
    randomHex = randomBytes(HEX_BLOCK_BYTES).toString("hex")
    hexOffset = 0
  }
  const out = randomHex.slice(hexOffset, hexOffset + n)
  hexOffset += n
  return out
}

export const newRequestId = (): string => uuidv7FromHex(Date.now(), randomDigits(20))
export const randomTraceId = (): string => randomDigits(32)

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
  logFields: undefined,
  finished: false
})

/**
 * When the request arrived, on the wall clock: the month its reservation counts in and the date
 * of its usage record are one instant (a request admitted just past midnight after a slow upload
 * stays in the month it arrived in, in the counter and in the ledger alike).
 */
export const arrivedAtMs = (state: RequestState): number => Date.now() - (performance.now() - state.started)

export const addHeader = (state: RequestState, name: string, value: string): void => {
  if (state.extraHeaders === undefined) state.extraHeaders = {}
  state.extraHeaders[name] = value
}

export const addLogField = (state: RequestState, name: string, value: unknown): void => {
  if (state.logFields === undefined) state.logFields = {}
  state.logFields[name] = value
}
