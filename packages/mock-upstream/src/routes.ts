import { anthropic } from "./anthropic.js"
import { azure } from "./azure.js"
import type { Dialect } from "./dialect.js"
import { openAI } from "./openai.js"

export type Route =
  | { readonly kind: "chat"; readonly dialect: Dialect; readonly routeModel: string | undefined }
  | { readonly kind: "models"; readonly dialect: Dialect }
  /** No such route; the dialect is a best guess, so the 404 still comes in a shape the caller parses. */
  | { readonly kind: "not-found"; readonly dialect: Dialect }

const azureChat = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/

export const route = (method: string, path: string, headers: Readonly<Record<string, string>>): Route => {
  if (method === "POST") {
    if (path === "/v1/chat/completions") return { kind: "chat", dialect: openAI, routeModel: undefined }
    if (path === "/v1/messages") return { kind: "chat", dialect: anthropic, routeModel: undefined }
    const azureMatch = azureChat.exec(path)
    if (azureMatch) return { kind: "chat", dialect: azure, routeModel: deployment(azureMatch[1] as string) }
  }
  if (method === "GET" && path === "/v1/models") return { kind: "models", dialect: openAI }
  const dialect = path.startsWith("/openai/") ? azure : headers["anthropic-version"] ? anthropic : openAI
  return { kind: "not-found", dialect }
}

const deployment = (segment: string): string => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}
