/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests of /metrics:
 * it throws on anything a scraper could reject or misread rather than skipping it.
 *
 * Checked: HELP / TYPE syntax (TYPE at most once per family and before its samples), metric and
 * label name syntax, label value escapes (only `\\`, `\"`, `\n`), no duplicate label names, values
 * (floats, `NaN`, `+Inf`, `-Inf`) and optional integer timestamps, families contiguous, every
 * sample named for its family's type (`_bucket` / `_sum` / `_count` for histograms and
 * summaries), no duplicate series, histogram buckets cumulative with a `+Inf` bucket equal
 * to `_count`.
 */
export type PrometheusType = "counter" | "gauge" | "histogram" | "summary" | "untyped"

export interface PrometheusSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface PrometheusFamily {
  readonly name: string
  readonly type: PrometheusType
  readonly help: string | undefined
  readonly samples: ReadonlyArray<PrometheusSample>
}

export interface PrometheusExposition {
  readonly families: ReadonlyMap<string, PrometheusFamily>
  readonly samples: ReadonlyArray<PrometheusSample>
}

export class PrometheusParseError extends Error {
  constructor(line: number, reason: string, text: string) {
    super(`line ${line}: ${reason}: ${JSON.stringify(text.slice(0, 200))}`)
    this.name = "PrometheusParseError"
  }
}

const metricNameRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const labelNameRe = /^[a-zA-Z_][a-zA-Z0-9_]*/
const types = new Set<PrometheusType>(["counter", "gauge", "histogram", "summary", "untyped"])

const parseValue = (text: string): number | undefined => {
  if (text === "NaN") return Number.NaN
  if (text === "+Inf") return Number.POSITIVE_INFINITY
  if (text === "-Inf") return Number.NEGATIVE_INFINITY
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined
  return Number(text)
}

interface MutableFamily {
  name: string
  type: PrometheusType
  help: string | undefined
  samples: Array<PrometheusSample>
  typed: boolean
}

/** The family a sample name belongs to, given the declared families. */
const familyOf = (name: string, families: Map<string, MutableFamily>): string => {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length)
      const f = families.get(base)
      if (f !== undefined && (f.type === "histogram" || (f.type === "summary" && suffix !== "_bucket"))) return base
    }
  }
  return name
}

export const parsePrometheusText = (text: string): PrometheusExposition => {
  if (text !== "" && !text.endsWith("\n")) throw new PrometheusParseError(0, "exposition must end with a newline", "")
  const families = new Map<string, MutableFamily>()
  const all: Array<PrometheusSample> = []
  const seriesSeen = new Set<string>()
  const closed = new Set<string>()
  let current: string | undefined
  const lines = text.split("\n")
  lines.pop()

  const enter = (name: string, lineNo: number, line: string) => {
    if (current === name) return
    if (closed.has(name)) throw new PrometheusParseError(lineNo, `family ${name} is not contiguous`, line)
    if (current !== undefined) closed.add(current)
    current = name
  }
  const family = (name: string): MutableFamily => {
    let f = families.get(name)
    if (f === undefined) {
      f = { name, type: "untyped", help: undefined, samples: [], typed: false }
      families.set(name, f)
    }
    return f
  }

  lines.forEach((line, index) => {
    const lineNo = index + 1
    if (line.trim() === "") return
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line)
      if (m === null) return // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string | undefined]
      if (metricNameRe.exec(name)?.[0] !== name) throw new PrometheusParseError(lineNo, "bad metric name", line)
      enter(name, lineNo, line)
      const f = family(name)
      if (kind === "HELP") {
        if (f.help !== undefined) throw new PrometheusParseError(lineNo, "second HELP", line)
        const help = rest ?? ""
        if (/\\[^\\n]/.test(help.replace(/\\\\/g, ""))) throw new PrometheusParseError(lineNo, "bad HELP escape", line)
        f.help = help
      } else {
        if (f.typed) throw new PrometheusParseError(lineNo, "second TYPE", line)
        if (f.samples.length > 0) throw new PrometheusParseError(lineNo, "TYPE after samples", line)
        if (rest === undefined || !types.has(rest as PrometheusType))
          throw new PrometheusParseError(lineNo, "unknown TYPE", line)
        f.type = rest as PrometheusType
        f.typed = true
      }
      return
    }

    // name{labels} value [timestamp]
    let pos = 0
    const name = metricNameRe.exec(line)?.[0]
    if (name === undefined) throw new PrometheusParseError(lineNo, "bad metric name", line)
    pos = name.length
    const labels: Record<string, string> = {}
    if (line[pos] === "{") {
      pos++
      while (line[pos] !== "}") {
        const labelName = labelNameRe.exec(line.slice(pos))?.[0]
        if (labelName === undefined) throw new PrometheusParseError(lineNo, "bad label name", line)
        if (labelName in labels) throw new PrometheusParseError(lineNo, `duplicate label ${labelName}`, line)
        pos += labelName.length
        if (line[pos] !== "=" || line[pos + 1] !== '"') throw new PrometheusParseError(lineNo, 'expected ="', line)
        pos += 2
        let value = ""
        for (;;) {
          const c = line[pos]
          if (c === undefined) throw new PrometheusParseError(lineNo, "unterminated label value", line)
          if (c === '"') break
          if (c === "\\") {
            const e = line[pos + 1]
            if (e === "\\") value += "\\"
            else if (e === '"') value += '"'
            else if (e === "n") value += "\n"
            else throw new PrometheusParseError(lineNo, "bad label value escape", line)
            pos += 2
          } else {
            value += c
            pos++
          }
        }
        pos++
        labels[labelName] = value
        if (line[pos] === ",") pos++
        else if (line[pos] !== "}") throw new PrometheusParseError(lineNo, "expected , or }", line)
      }
      pos++
    }
    if (line[pos] !== " ") throw new PrometheusParseError(lineNo, "expected a space before the value", line)
    const parts = line.slice(pos + 1).split(" ")
    if (parts.length < 1 || parts.length > 2) throw new PrometheusParseError(lineNo, "expected value [timestamp]", line)
    const value = parseValue(parts[0] as string)
    if (value === undefined) throw new PrometheusParseError(lineNo, "bad value", line)
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1]))
      throw new PrometheusParseError(lineNo, "bad timestamp", line)

    const familyName = familyOf(name, families)
    enter(familyName, lineNo, line)
    const f = family(familyName)
    const suffix = name.slice(familyName.length)
    if (f.type === "histogram") {
      if (!["_bucket", "_sum", "_count"].includes(suffix))
        throw new PrometheusParseError(lineNo, "histogram sample without _bucket/_sum/_count", line)
      if (suffix === "_bucket" && (labels.le === undefined || parseValue(labels.le) === undefined))
        throw new PrometheusParseError(lineNo, "bucket without a numeric le", line)
    } else if (f.type === "summary") {
      if (suffix === "" && (labels.quantile === undefined || parseValue(labels.quantile) === undefined))
        throw new PrometheusParseError(lineNo, "summary sample without a numeric quantile", line)
    } else if (suffix !== "") throw new PrometheusParseError(lineNo, "sample name does not match its family", line)

    const key = `${name}{${Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(",")}}`
    if (seriesSeen.has(key)) throw new PrometheusParseError(lineNo, "duplicate series", line)
    seriesSeen.add(key)
    const sample = { name, labels, value }
    f.samples.push(sample)
    all.push(sample)
  })

  // Histograms: per label set (without le), buckets cumulative, a +Inf bucket equal to _count.
  for (const f of families.values()) {
    if (f.type !== "histogram") continue
    const groups = new Map<string, { buckets: Array<[number, number]>; count: number | undefined }>()
    for (const s of f.samples) {
      const { le, ...rest } = s.labels
      const key = JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)))
      const g = groups.get(key) ?? { buckets: [], count: undefined }
      groups.set(key, g)
      if (s.name.endsWith("_bucket")) g.buckets.push([parseValue(le as string) as number, s.value])
      else if (s.name.endsWith("_count")) g.count = s.value
    }
    for (const [key, g] of groups) {
      const sorted = [...g.buckets].sort(([a], [b]) => a - b)
      for (let i = 1; i < sorted.length; i++)
        if ((sorted[i] as [number, number])[1] < (sorted[i - 1] as [number, number])[1])
          throw new PrometheusParseError(0, `histogram ${f.name} buckets not cumulative`, key)
      const inf = sorted.find(([le]) => le === Number.POSITIVE_INFINITY)
      if (inf === undefined) throw new PrometheusParseError(0, `histogram ${f.name} without a +Inf bucket`, key)
      if (g.count === undefined || g.count !== inf[1])
        throw new PrometheusParseError(0, `histogram ${f.name}: +Inf bucket differs from _count`, key)
    }
  }

  const out = new Map<string, PrometheusFamily>()
  for (const [name, f] of families) out.set(name, { name, type: f.type, help: f.help, samples: f.samples })
  return { families: out, samples: all }
}
