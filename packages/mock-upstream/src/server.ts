import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { respond } from "./answer.js"
import { type Failure, isFailure } from "./dialect.js"
import { Exchange } from "./exchange.js"
import { faultForModel, listedModels } from "./faults.js"
import { flattenHeaders, readBody, sendJson, splitUrl } from "./http.js"
import { Recorder } from "./recorder.js"
import { route } from "./routes.js"
import type { MockFault, MockUpstream, MockUpstreamOptions, RecordedRequest } from "./types.js"

/** Anthropic's and OpenAI's request limit; above it the answer is a 413 in the dialect's shape. */
const maxBodyBytes = 32 * 1024 * 1024

const modelList = {
  object: "list",
  data: listedModels.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "ibex-mock" }))
}

export const startMockUpstream = async (options: MockUpstreamOptions = {}): Promise<MockUpstream> => {
  const recorder = new Recorder(options.maxRecorded ?? 10_000)
  const defaultDelayMs = options.chunkDelayMs ?? 0
  const apiKey = options.apiKey
  let faults: MockFault[] = []
  let seq = 0
  let closing = false
  const sockets = new Set<Socket>()

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const n = ++seq
    const method = req.method ?? "GET"
    const { path, query } = splitUrl(req.url ?? "/")
    const headers = flattenHeaders(req.headers)
    const target = route(method, path, headers)
    const dialect = target.dialect
    const record: RecordedRequest = {
      id: n,
      method,
      path,
      query,
      headers,
      body: undefined,
      receivedAt: Date.now(),
      dialect: dialect.name
    }
    recorder.add(record)
    const ex = new Exchange(res)
    res.on("finish", () => {
      record.completedAt = Date.now()
    })
    res.on("close", () => {
      ex.onClosed()
      if (!res.writableFinished && !ex.serverClosed && !closing) {
        record.abortedAt = Date.now()
        recorder.aborted(record)
      }
    })

    readBody(req, maxBodyBytes, (text) => {
      if (ex.closed) return
      const fail = (failure: Failure): void => {
        const answer = dialect.failure(failure, n)
        sendJson(res, answer.status, dialect.headers(n), answer.body)
      }
      let body: unknown
      let malformed = false
      if (text === undefined) record.body = undefined
      else if (text !== "") {
        try {
          body = JSON.parse(text)
          record.body = body
        } catch {
          malformed = true
          record.body = text
        }
      }
      try {
        if (target.kind === "not-found") return fail({ reason: "not-found", method, path })
        const incoming = { headers, query }
        const pre = dialect.precheck(incoming)
        if (pre) return fail(pre)
        if (apiKey !== undefined && !dialect.authorized(incoming, apiKey)) return fail({ reason: "unauthorized" })
        if (target.kind === "models") return sendJson(res, 200, dialect.headers(n), modelList)
        if (text === undefined)
          return fail({
            reason: "status",
            status: 413,
            message: "Request exceeds the maximum allowed number of bytes."
          })
        if (malformed || text === "") return fail({ reason: "malformed-json" })
        const parsed = dialect.parse(body, target.routeModel)
        if (isFailure(parsed)) return fail(parsed)
        // Only completion requests that would be answered take a queued fault.
        const fault = faults.shift() ?? faultForModel(parsed.model)
        respond(ex, dialect, parsed, fault, n, defaultDelayMs)
      } catch {
        // A bad enqueued fault (say, an invalid status code) must not take the server down.
        if (!res.headersSent) sendJson(res, 500, {}, { error: { message: "mock upstream: internal error" } })
        else ex.drop()
      }
    })
  }

  const server = createServer({ keepAlive: true, noDelay: true }, onRequest)
  server.on("connection", (socket: Socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })

  const host = options.host ?? "127.0.0.1"
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    // A deep backlog: a benchmark opens 1,000 streams at once, and a dropped SYN costs a 1 s retry.
    server.listen({ port: options.port ?? 0, host, backlog: 4096 }, () => {
      server.off("error", reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port

  let closed: Promise<void> | undefined
  return {
    url: `http://${urlHost(host)}:${port}`,
    port,
    get requests() {
      return recorder.requests
    },
    enqueueFaults: (...more) => {
      faults.push(...more)
    },
    clearFaults: () => {
      faults = []
    },
    reset: () => {
      faults = []
      recorder.clear()
    },
    waitForAbort: (pred = () => true, timeoutMs = 5_000) => recorder.waitForAbort(pred, timeoutMs),
    close: () => {
      if (closed) return closed
      closing = true
      recorder.rejectAll()
      closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // server.close only stops accepting; hung and stalled exchanges would hold it open forever.
      for (const socket of sockets) socket.destroy()
      return closed
    }
  }
}

/** What a client dials: a wildcard bind is reached on loopback; an IPv6 literal needs brackets. */
const urlHost = (host: string): string => {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1"
  return host.includes(":") ? `[${host}]` : host
}
