import { IncomingMessage, ServerResponse } from "node:http"
import { Socket } from "node:net"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { parseChatRequest } from "../src/chat/chatRequest.js"
import { prepareForward } from "../src/chat/forward.js"
import { newMeter } from "../src/chat/metering.js"
import { newRequestState } from "../src/edge/RequestState.js"
import type { ProxyMetrics } from "../src/Metrics.js"

const intent = Either.getOrThrow(
  parseChatRequest(Buffer.from(JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] })))
)
const exchange = () => {
  const req = new IncomingMessage(new Socket())
  return { req, res: new ServerResponse(req) }
}
const prepare = (req: IncomingMessage, res: ServerResponse) =>
  prepareForward(req, res, newRequestState("r-1", "POST", 0), intent, "org", undefined, newMeter(), {} as ProxyMetrics)

// A client that goes away later is covered end to end ("a client abort reaches the provider within 1 s").
describe("prepareForward: the upstream call's abort signal", () => {
  it("a client gone before the upstream call (while a limiter answered) aborts it before anything is sent", () => {
    const { req, res } = exchange()
    res.destroy()
    expect(prepare(req, res).request.signal.aborted).toBe(true)
  })
})
