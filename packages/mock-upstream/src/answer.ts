import type { AnswerContext, Dialect, Failure, ParsedRequest } from "./dialect.js"
import type { Exchange } from "./exchange.js"
import { sendJson, sseHeaders } from "./http.js"
import { type Plan, plan } from "./reply.js"
import { type StreamEnd, writeStream } from "./stream.js"
import type { MockFault } from "./types.js"

/**
 * Answers a parsed completion request, normally or as its fault says. At most one fault applies
 * per request; "context-length" is the mock-400 model's error, which needs the prompt's size.
 */
export const respond = (
  ex: Exchange,
  dialect: Dialect,
  request: ParsedRequest,
  fault: MockFault | "context-length" | undefined,
  n: number,
  defaultDelayMs: number
): void => {
  const ctx: AnswerContext = {
    n,
    model: request.model,
    created: Math.floor(Date.now() / 1000),
    includeUsage: request.includeUsage
  }
  const p = plan(request.prompt)
  const stream = request.stream
  const fail = (failure: Failure, extra: Record<string, string> = {}): void => {
    const answer = dialect.failure(failure, n)
    sendJson(ex.res, answer.status, { ...dialect.headers(n), ...extra }, answer.body)
  }
  const startStream = (count: number | undefined, delayMs: number, end: StreamEnd): void => {
    const frames = dialect.frames(p, ctx)
    ex.res.writeHead(200, sseHeaders(dialect.headers(n)))
    writeStream(ex, frames, count ?? frames.length, delayMs, end)
  }
  const normal = (): void => {
    if (stream) startStream(undefined, defaultDelayMs, complete)
    else sendJson(ex.res, 200, dialect.headers(n), dialect.completion(p, ctx))
  }

  if (fault === undefined) normal()
  else if (fault === "context-length") fail({ reason: "context-length", promptTokens: p.promptTokens })
  else applyFault(fault)

  function applyFault(fault: MockFault): void {
    switch (fault.kind) {
      case "status":
        fail(
          { reason: "status", status: fault.status, message: fault.message },
          fault.retryAfterSeconds === undefined ? {} : { "retry-after": String(fault.retryAfterSeconds) }
        )
        break
      case "hang":
        break
      case "stall":
        // A non-streaming stall has no chunks to send first: it is a hang.
        if (stream) startStream(fault.afterChunks, defaultDelayMs, { kind: "stall" })
        break
      case "drop":
        if (fault.afterChunks === undefined) ex.drop()
        else if (stream) startStream(fault.afterChunks, defaultDelayMs, { kind: "drop" })
        else dropMidBody(ex, dialect, p, ctx)
        break
      case "slow":
        if (stream) startStream(undefined, fault.chunkDelayMs, complete)
        // As long as the same answer would take to stream.
        else ex.after(fault.chunkDelayMs * (dialect.frames(p, ctx).length - 1), normal)
        break
      case "delay":
        ex.after(fault.ms, normal)
        break
      case "stream-error":
        if (stream) startStream(fault.afterChunks, defaultDelayMs, { kind: "error", frame: dialect.streamErrorFrame() })
        else fail({ reason: "stream-error" })
        break
      case "whole":
        sendJson(ex.res, 200, dialect.headers(n), dialect.completion(p, ctx))
        break
      case "truncate":
        // The first N frames, then the body's clean end: what the stream itself says last never comes.
        if (stream)
          startStream(Math.min(fault.afterChunks, dialect.frames(p, ctx).length - 1), defaultDelayMs, complete)
        else dropMidBody(ex, dialect, p, ctx)
        break
    }
  }
}

const complete: StreamEnd = { kind: "complete" }

/** Headers promise the whole body; half of it arrives before the connection is cut. */
const dropMidBody = (ex: Exchange, dialect: Dialect, p: Plan, ctx: AnswerContext): void => {
  const text = JSON.stringify(dialect.completion(p, ctx))
  ex.res.writeHead(200, {
    ...dialect.headers(ctx.n),
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text))
  })
  ex.res.write(text.slice(0, Math.floor(text.length / 2)))
  ex.dropAfterFlush()
}
