import { request as httpRequest } from "node:http"

export interface CallSpec {
  readonly method?: string
  readonly path: string
  readonly token?: string | undefined
  /** A raw Authorization header value, for malformed-header rows. */
  readonly authorization?: string | undefined
  readonly agentId?: string | undefined
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string | undefined
}

export interface Observed {
  readonly spec: CallSpec
  readonly status: number
  readonly headers: Readonly<Record<string, string | Array<string> | undefined>>
  readonly text: string
  readonly json: unknown
  readonly ms: number
}

/** One HTTP exchange over a real socket, with node:http so nothing is normalised behind our back. */
export const call = (baseUrl: string, spec: CallSpec): Promise<Observed> =>
  new Promise((resolve, reject) => {
    const url = new URL(spec.path, baseUrl)
    const headers: Record<string, string> = { ...spec.headers }
    if (spec.authorization !== undefined) headers.authorization = spec.authorization
    else if (spec.token !== undefined) headers.authorization = `Bearer ${spec.token}`
    if (spec.agentId !== undefined) headers["x-ibex-agent-id"] = spec.agentId
    if (spec.body !== undefined) {
      headers["content-type"] ??= "application/json"
      headers["content-length"] = String(Buffer.byteLength(spec.body))
    }
    const started = performance.now()
    const req = httpRequest(url, { method: spec.method ?? "GET", headers }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          json = undefined
        }
        resolve({
          spec,
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json,
          ms: performance.now() - started
        })
      })
      res.on("error", reject)
    })
    req.on("error", reject)
    if (spec.body !== undefined) req.write(spec.body)
    req.end()
  })

export const header = (o: Observed, name: string): string | undefined => {
  const v = o.headers[name.toLowerCase()]
  return Array.isArray(v) ? v[0] : v
}

export const errorCode = (o: Observed): string | undefined =>
  (o.json as { error?: { code?: string } } | undefined)?.error?.code

export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] ?? Number.NaN
}
