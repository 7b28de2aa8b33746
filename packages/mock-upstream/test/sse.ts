/** Test-side readers of the mock's answers: raw SSE frames, with the time each arrived. */

export interface Frame {
  readonly event: string | undefined
  readonly data: string
  readonly at: number
}

export const parseFrames = (text: string, at = 0): Frame[] =>
  text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      let event: string | undefined
      const data: string[] = []
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7)
        else if (line.startsWith("data: ")) data.push(line.slice(6))
      }
      return { event, data: data.join("\n"), at }
    })

export interface Reading {
  readonly frames: Frame[]
  /** How the body ended within the window: "end", "error" (connection cut), or "open" (still silent). */
  readonly outcome: "end" | "error" | "open"
}

/**
 * Reads a streamed body frame by frame for at most `windowMs`; a stalled stream comes back
 * "open" with what it sent. The reader is cancelled afterwards so the connection is released.
 */
export const readFrames = async (res: Response, windowMs = 2_000): Promise<Reading> => {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  const frames: Frame[] = []
  let buffer = ""
  const deadline = Date.now() + windowMs
  let outcome: Reading["outcome"] = "open"
  for (;;) {
    const left = deadline - Date.now()
    if (left <= 0) break
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), left)
    })
    const next = await Promise.race([reader.read(), timeout]).catch(() => "error" as const)
    clearTimeout(timer)
    if (next === "timeout") break
    if (next === "error") {
      outcome = "error"
      break
    }
    if (next.done) {
      outcome = "end"
      break
    }
    buffer += decoder.decode(next.value, { stream: true })
    const cut = buffer.lastIndexOf("\n\n")
    if (cut >= 0) {
      frames.push(...parseFrames(buffer.slice(0, cut + 2), Date.now()))
      buffer = buffer.slice(cut + 2)
    }
  }
  await reader.cancel().catch(() => undefined)
  return { frames, outcome }
}

export const json = (frame: Frame): Record<string, unknown> => JSON.parse(frame.data) as Record<string, unknown>

/** Resolves "timeout" if `promise` has not settled within `ms`. */
export const within = <A>(promise: Promise<A>, ms: number): Promise<A | "timeout"> => {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ms)
    })
  ])
}
