import {
  AbortLatch,
  type AbortSignalLike,
  type TargetTimeouts,
  UpstreamAborted,
  UpstreamConnectFailed,
  UpstreamTimedOut
} from "@ibex/domain"
import { Effect, Either, Option } from "effect"
import { Agent, type Dispatcher } from "undici"

/** A response whose headers arrived. `release` ends the total-time bound and must be called once the body is done. */
export interface UpstreamExchange {
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: Dispatcher.ResponseData["body"]
  readonly release: () => void
}

export type TransportFailure = UpstreamConnectFailed | UpstreamTimedOut | UpstreamAborted

export interface UpstreamPost {
  readonly providerId: string
  readonly url: string
  readonly headers: Record<string, string>
  readonly body: string
  readonly timeouts: TargetTimeouts
  readonly signal: AbortSignalLike
}

/** Why we aborted a request ourselves; compared by identity so an error from the body says which. */
const CLIENT_GONE = { reason: "client" } as const
const TOTAL_ELAPSED = { reason: "total" } as const

/**
 * Keep-alive connection pools to the providers, one undici Agent per connect timeout (the only
 * per-target setting undici fixes per pool). Every other bound is per request: first byte
 * (headersTimeout), idle between chunks (bodyTimeout), and the total, by our own abort.
 */
export interface UpstreamHttp {
  readonly post: (request: UpstreamPost) => Effect.Effect<UpstreamExchange, TransportFailure>
  /** `post` through a callback (no fiber); returns a canceller that aborts the request. */
  readonly postNow: (
    request: UpstreamPost,
    done: (result: Either.Either<UpstreamExchange, TransportFailure>) => void
  ) => () => void
  /** Maps an error thrown while reading a body to the failure it means. */
  readonly bodyFailure: (providerId: string, exchange: UpstreamExchange, error: unknown) => TransportFailure
  readonly close: Effect.Effect<void>
}

const codeOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

/** Where a request goes, split as undici's dispatcher takes it. */
interface Destination {
  readonly origin: string
  readonly path: string
}

/**
 * A target's URL is the same string on every request: split once (undici parses a string URL per
 * call otherwise). Bounded: a routing table names a handful of URLs; the map is dropped if reloads
 * ever fill it.
 */
const destinationOf = (() => {
  const known = new Map<string, Destination>()
  return (url: string): Destination | undefined => {
    let d = known.get(url)
    if (d === undefined) {
      // The routing table admits only http(s) base URLs; a URL that still does not parse is the
      // attempt's connect failure, not a throw in the caller's callback.
      if (!URL.canParse(url)) return undefined
      const parsed = new URL(url)
      d = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` }
      if (known.size >= 256) known.clear()
      known.set(url, d)
    }
    return d
  }
})()

export const makeUpstreamHttp = (): UpstreamHttp => {
  const agents = new Map<number, Agent>()
  const agentFor = (connectMs: number): Agent => {
    let agent = agents.get(connectMs)
    if (agent === undefined) {
      agent = new Agent({
        connect: { timeout: connectMs },
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        // Streams hold their connection for minutes: no per-origin cap, the proxy's own limits bound it.
        connections: null
      })
      agents.set(connectMs, agent)
    }
    return agent
  }
  const reasons = new WeakMap<UpstreamExchange["body"], AbortLatch>()

  const classify = (providerId: string, abortReason: unknown, error: unknown): TransportFailure => {
    if (abortReason === CLIENT_GONE) return new UpstreamAborted({ providerId })
    if (abortReason === TOTAL_ELAPSED) return new UpstreamTimedOut({ providerId, phase: "total" })
    switch (codeOf(error)) {
      case "UND_ERR_CONNECT_TIMEOUT":
        return new UpstreamTimedOut({ providerId, phase: "connect" })
      case "UND_ERR_HEADERS_TIMEOUT":
        return new UpstreamTimedOut({ providerId, phase: "first_byte" })
      case "UND_ERR_BODY_TIMEOUT":
        return new UpstreamTimedOut({ providerId, phase: "idle" })
      default:
        // The code only (ECONNREFUSED, UND_ERR_SOCKET): messages can carry URLs and addresses.
        return new UpstreamConnectFailed({ providerId, detail: codeOf(error) ?? "connection failed" })
    }
  }

  const postNow = (
    req: UpstreamPost,
    done: (result: Either.Either<UpstreamExchange, TransportFailure>) => void
  ): (() => void) => {
    if (req.signal.aborted) {
      done(Either.left(new UpstreamAborted({ providerId: req.providerId })))
      return () => {}
    }
    const latch = new AbortLatch()
    const onClientGone = () => latch.abort(CLIENT_GONE)
    req.signal.addEventListener("abort", onClientGone, { once: true })
    const total = setTimeout(() => latch.abort(TOTAL_ELAPSED), req.timeouts.totalMs)
    let released = false
    const release = () => {
      if (released) return
      released = true
      clearTimeout(total)
      req.signal.removeEventListener("abort", onClientGone)
    }
    const destination = destinationOf(req.url)
    if (destination === undefined) {
      release()
      done(Either.left(new UpstreamConnectFailed({ providerId: req.providerId, detail: "invalid URL" })))
      return () => {}
    }
    const { origin, path } = destination
    // The dispatcher's callback form: no promise and no microtask per call.
    agentFor(req.timeouts.connectMs).request(
      {
        origin,
        path,
        method: "POST",
        headers: req.headers,
        body: req.body,
        // undici reads only `aborted`, `reason` and the "abort" listeners of a signal (EventTarget-shaped).
        signal: latch as unknown as AbortSignal,
        headersTimeout: req.timeouts.firstByteMs,
        bodyTimeout: req.timeouts.idleMs
      },
      (error, res) => {
        if (error === null) {
          reasons.set(res.body, latch)
          done(Either.right({ status: res.statusCode, headers: res.headers, body: res.body, release }))
        } else {
          release()
          done(Either.left(classify(req.providerId, latch.reason, error)))
        }
      }
    )
    return () => {
      if (!released) {
        release()
        latch.abort(CLIENT_GONE)
      }
    }
  }

  // Interrupted (the request fiber ended): the canceller aborts the upstream call, as for a client gone.
  const post = (req: UpstreamPost): Effect.Effect<UpstreamExchange, TransportFailure> =>
    Effect.async<UpstreamExchange, TransportFailure>((resume) => Effect.sync(postNow(req, resume)))

  return {
    post,
    postNow,
    bodyFailure: (providerId, exchange, error) => classify(providerId, reasons.get(exchange.body)?.reason, error),
    close: Effect.promise(() => Promise.all([...agents.values()].map((a) => a.close().catch(() => undefined)))).pipe(
      Effect.asVoid
    )
  }
}

/**
 * The body as text, up to `limitBytes` (a larger answer is a protocol failure, not a memory
 * problem: `None`), through a callback; returns a canceller that stops reading.
 */
export const readTextNow = (
  http: UpstreamHttp,
  providerId: string,
  exchange: UpstreamExchange,
  limitBytes: number,
  done: (result: Either.Either<Option.Option<string>, TransportFailure>) => void
): (() => void) => {
  const chunks: Array<Buffer> = []
  let size = 0
  let settled = false
  const body = exchange.body
  const finish = (value: Either.Either<Option.Option<string>, TransportFailure>) => {
    if (settled) return
    settled = true
    exchange.release()
    done(value)
  }
  body.on("data", (chunk: Buffer) => {
    size += chunk.length
    if (size > limitBytes) {
      body.destroy()
      finish(Either.right(Option.none()))
    } else chunks.push(chunk)
  })
  body.on("end", () => finish(Either.right(Option.some(Buffer.concat(chunks, size).toString("utf8")))))
  body.on("error", (error) => finish(Either.left(http.bodyFailure(providerId, exchange, error))))
  return () => {
    if (!settled) {
      settled = true
      exchange.release()
      body.destroy()
    }
  }
}

export const readText = (
  http: UpstreamHttp,
  providerId: string,
  exchange: UpstreamExchange,
  limitBytes: number
): Effect.Effect<Option.Option<string>, TransportFailure> =>
  Effect.async<Option.Option<string>, TransportFailure>((resume) =>
    Effect.sync(readTextNow(http, providerId, exchange, limitBytes, resume))
  )

/**
 * The body as text, pulled on demand: each pull takes everything the socket has delivered since
 * the last one (UTF-8 decoded across chunk boundaries) and waits only when nothing has; `None`
 * once the body ended. One pull per network read, not per event: a stream's cost is paid per
 * batch of events, and nothing is read from the upstream that the client has not asked for.
 * `release` must be called when the reader is done with the body, whatever the outcome.
 */
export interface BodyReader {
  readonly pull: Effect.Effect<Option.Option<string>, TransportFailure>
  /** `pull` through a callback; returns a canceller for a pull still waiting. */
  readonly pullNow: (done: (result: Either.Either<Option.Option<string>, TransportFailure>) => void) => () => void
  readonly release: () => void
}

const nothing = () => {}

/**
 * Lets go of an answer not read to its end: the total-time bound ends and the upstream socket is
 * released. undici's `destroy()` of a body whose 'end' is still queued emits an abort error of its
 * own, which a listener must take (unhandled, it ends the process).
 */
export const discard = (exchange: UpstreamExchange): void => {
  exchange.release()
  exchange.body.on("error", nothing)
  if (!exchange.body.destroyed) exchange.body.destroy()
}

export const bodyReader = (http: UpstreamHttp, providerId: string, exchange: UpstreamExchange): BodyReader => {
  // The SSE parser skips a leading BOM itself (once, as the spec says); the decoder must not as well.
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true })
  const body = exchange.body
  // The body's own state says whether it ended or failed (`readableEnded`, `errored`); this
  // listener only keeps an error from being an unhandled 'error' event, which ends the process.
  // It stays for the body's life: undici's `destroy()` of a body whose 'end' was not emitted yet
  // (read to its last byte, the 'end' event still queued) emits an abort error of its own.
  body.on("error", nothing)

  /** What is buffered now: text, the end, a failure, or undefined (nothing yet). */
  const take = (): Either.Either<Option.Option<string>, TransportFailure> | undefined => {
    if (body.errored !== null) return Either.left(http.bodyFailure(providerId, exchange, body.errored))
    let text = ""
    for (let chunk = body.read() as Buffer | null; chunk !== null; chunk = body.read() as Buffer | null)
      text += decoder.decode(chunk, { stream: true })
    if (text !== "") return Either.right(Option.some(text))
    if (body.readableEnded) {
      const rest = decoder.decode()
      return Either.right(rest === "" ? Option.none() : Option.some(rest))
    }
    return undefined
  }

  const pullNow: BodyReader["pullNow"] = (done) => {
    const now = take()
    if (now !== undefined) {
      done(now)
      return nothing
    }
    const wake = () => {
      const next = take()
      if (next === undefined) return
      stop()
      done(next)
    }
    const stop = () => {
      body.off("readable", wake)
      body.off("end", wake)
      body.off("error", wake)
    }
    body.on("readable", wake)
    body.on("end", wake)
    body.on("error", wake)
    return stop
  }

  let released = false
  return {
    pull: Effect.suspend(
      () =>
        take() ??
        Effect.async<Option.Option<string>, TransportFailure>((resume) => Effect.sync(pullNow((r) => resume(r))))
    ),
    pullNow,
    release: () => {
      if (released) return
      released = true
      discard(exchange)
    }
  }
}

export const headerOf = (exchange: UpstreamExchange, name: string): string | undefined => {
  const v = exchange.headers[name]
  return typeof v === "string" ? v : Array.isArray(v) ? v[0] : undefined
}

/** `retry-after-ms` (OpenAI), else `retry-after` in seconds or as an HTTP date. */
export const retryAfterMs = (exchange: UpstreamExchange, nowMs: number): Option.Option<number> => {
  const ms = Number(headerOf(exchange, "retry-after-ms"))
  if (headerOf(exchange, "retry-after-ms") !== undefined && Number.isFinite(ms) && ms >= 0)
    return Option.some(Math.ceil(ms))
  const raw = headerOf(exchange, "retry-after")
  if (raw === undefined) return Option.none()
  const seconds = Number(raw)
  if (raw.trim() !== "" && Number.isFinite(seconds) && seconds >= 0) return Option.some(Math.ceil(seconds * 1000))
  const date = Date.parse(raw)
  return Number.isNaN(date) ? Option.none() : Option.some(Math.max(0, date - nowMs))
}
