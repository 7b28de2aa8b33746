import type { MockFault } from "./types.js"

/**
 * Faults chosen by the requested model name (for Azure: the deployment name). A routing config
 * can point a target at one of these through the proxy, where a test cannot add headers. The
 * list is documented in index.ts; any other name answers normally.
 */
const statusModels: Record<string, MockFault> = {
  "mock-429": { kind: "status", status: 429, retryAfterSeconds: 1 },
  "mock-500": { kind: "status", status: 500 },
  "mock-502": { kind: "status", status: 502 },
  "mock-503": { kind: "status", status: 503 },
  "mock-504": { kind: "status", status: 504 },
  "mock-529": { kind: "status", status: 529 },
  "mock-hang": { kind: "hang" },
  "mock-stall": { kind: "stall", afterChunks: 2 },
  "mock-drop": { kind: "drop" },
  "mock-slow": { kind: "slow", chunkDelayMs: 50 },
  "mock-stream-error": { kind: "stream-error", afterChunks: 2 },
  "mock-whole": { kind: "whole" }
}

/** The 400 whose message says the context window is exceeded; each dialect words it its provider's way. */
export const contextLengthModel = "mock-400"
export const contextLimitTokens = 8

const numbered = /^mock-(slow|delay|drop|stall|truncate|stream-error)-(\d{1,9})$/

export const faultForModel = (model: string): MockFault | "context-length" | undefined => {
  if (!model.startsWith("mock-")) return undefined
  if (model === contextLengthModel) return "context-length"
  const fixed = statusModels[model]
  if (fixed) return fixed
  const m = numbered.exec(model)
  if (!m) return undefined
  const n = Number(m[2])
  switch (m[1]) {
    case "slow":
      return { kind: "slow", chunkDelayMs: n }
    case "delay":
      return { kind: "delay", ms: n }
    case "drop":
      return { kind: "drop", afterChunks: n }
    case "truncate":
      return { kind: "truncate", afterChunks: n }
    case "stream-error":
      return { kind: "stream-error", afterChunks: n }
    default:
      return { kind: "stall", afterChunks: n }
  }
}

/** Names a `GET /v1/models` lists, so a client can discover the fault models. */
export const listedModels = ["mock-model", contextLengthModel, ...Object.keys(statusModels)]
