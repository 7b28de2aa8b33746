/** Server-sent events, split out of text that arrives in arbitrary pieces (provisional; see the SSE spec). */
export interface SseEvent {
  readonly event: string
  readonly data: string
}

export const makeSseParser = () => {
  let buffer = ""
  let event = ""
  let data: Array<string> = []
  const line = (l: string, out: Array<SseEvent>) => {
    if (l === "") {
      if (data.length > 0) out.push({ event: event === "" ? "message" : event, data: data.join("\n") })
      event = ""
      data = []
      return
    }
    if (l.startsWith(":")) return
    const colon = l.indexOf(":")
    const field = colon === -1 ? l : l.slice(0, colon)
    let value = colon === -1 ? "" : l.slice(colon + 1)
    if (value.startsWith(" ")) value = value.slice(1)
    if (field === "data") data.push(value)
    else if (field === "event") event = value
  }
  return {
    push(text: string): Array<SseEvent> {
      buffer += text
      const out: Array<SseEvent> = []
      let start = 0
      for (;;) {
        const nl = buffer.indexOf("\n", start)
        if (nl === -1) break
        const end = nl > start && buffer.charCodeAt(nl - 1) === 13 ? nl - 1 : nl
        line(buffer.slice(start, end), out)
        start = nl + 1
      }
      buffer = buffer.slice(start)
      return out
    },
    end(): Array<SseEvent> {
      const out: Array<SseEvent> = []
      if (buffer !== "") line(buffer, out)
      buffer = ""
      line("", out)
      return out
    }
  }
}
