// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per package.
// Usage: node --import tsx bench/profile.ts <file.cpuprofile> [top]
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
}
interface CpuProfile {
  readonly startTime: number
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export interface ProfileSummary {
  readonly totalMs: number
  readonly idlePct: number
  readonly gcPct: number
  readonly top: ReadonlyArray<{ fn: string; where: string; selfMs: number; selfPct: number }>
  readonly byPackage: ReadonlyArray<{ pkg: string; selfMs: number; selfPct: number }>
}

/** Where a frame lives: node internals, a package under node_modules, or a workspace folder. */
const packageOf = (url: string, fn: string): string => {
  if (url === "") return fn.startsWith("(") ? fn : "(native)"
  if (url.startsWith("node:")) return url.split("/")[0] ?? url
  const nm = url.lastIndexOf("node_modules/")
  if (nm !== -1) {
    const rest = url.slice(nm + "node_modules/".length).split("/")
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url)
  }
  const m = /\/(packages|apps|bench)\/([^/]+)/.exec(url)
  return m ? `${m[1]}/${m[2]}` : url
}

const shortUrl = (url: string) => {
  const nm = url.lastIndexOf("node_modules/")
  if (nm !== -1) return url.slice(nm + "node_modules/".length)
  const m = /\/((packages|apps|bench)\/.*)$/.exec(url)
  return m?.[1] ?? url.replace(/^file:\/\//, "")
}

/**
 * `window`: only samples taken between these monotonic timestamps (µs, the clock of
 * `process.hrtime.bigint()` / 1000, which V8's profile timestamps share), e.g. the load phase
 * without the process's start-up (module loading under tsx).
 */
export const summarizeProfile = (
  file: string,
  topN = 25,
  window?: { readonly startUs: number; readonly endUs: number }
): ProfileSummary => {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  let total = 0
  let at = profile.startTime
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    at += dt
    if (window !== undefined && (at < window.startUs || at > window.endUs)) return
    total += dt
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt)
  })
  const byFn = new Map<string, { fn: string; where: string; us: number }>()
  const byPkg = new Map<string, number>()
  let idle = 0
  let gc = 0
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame
    if (frame === undefined) continue
    const fn = frame.functionName || "(anonymous)"
    if (fn === "(idle)") idle += us
    if (fn === "(garbage collector)") gc += us
    const where = frame.url === "" ? "" : `${shortUrl(frame.url)}:${frame.lineNumber + 1}`
    const key = `${fn}@${where}`
    const entry = byFn.get(key) ?? { fn, where, us: 0 }
    entry.us += us
    byFn.set(key, entry)
    const pkg = packageOf(frame.url, fn)
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us)
  }
  const busy = Math.max(1, total - idle)
  const pct = (us: number) => Number(((us / busy) * 100).toFixed(1))
  return {
    totalMs: Math.round(total / 1000),
    idlePct: Number(((idle / Math.max(1, total)) * 100).toFixed(1)),
    gcPct: pct(gc),
    top: [...byFn.values()]
      .filter((e) => e.fn !== "(idle)" && e.fn !== "(program)")
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((e) => ({ fn: e.fn, where: e.where, selfMs: Math.round(e.us / 1000), selfPct: pct(e.us) })),
    byPackage: [...byPkg.entries()]
      .filter(([p]) => p !== "(idle)")
      .sort((a, b) => b[1] - a[1])
      .map(([pkg, us]) => ({ pkg, selfMs: Math.round(us / 1000), selfPct: pct(us) }))
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, top] = process.argv.slice(2)
  if (file === undefined) throw new Error("usage: bench/profile.ts <file.cpuprofile> [top]")
  console.log(JSON.stringify(summarizeProfile(file, Number(top ?? 25)), null, 2))
}
