import { Either } from "effect"
import { AnthropicTranslationError } from "./errors.js"
import type { AnthropicDocumentBlock, AnthropicImageBlock, AnthropicImageMediaType } from "./wire.js"

/**
 * OpenAI image and file parts as Anthropic `image` / `document` blocks. Images come either
 * inline (a base64 `data:` URL, sent as a base64 source with the URL's media type) or by
 * http(s) URL (sent as a URL source: Anthropic fetches it, as OpenAI would). Anything Anthropic
 * would refuse anyway (other schemes, other image types, non-base64 data URLs, OpenAI file ids)
 * is refused here with a message that names the field, rather than as Anthropic's less
 * specific 400.
 */

const imageTypes: ReadonlyMap<string, AnthropicImageMediaType> = new Map([
  ["image/jpeg", "image/jpeg"],
  // Not a registered type, but common in hand-built data URLs; it means JPEG.
  ["image/jpg", "image/jpeg"],
  ["image/png", "image/png"],
  ["image/gif", "image/gif"],
  ["image/webp", "image/webp"]
])

interface DataUrl {
  readonly mediaType: string
  readonly base64: boolean
  readonly data: string
}

/**
 * `data:[<media type>][;param]*[;base64],<data>` (RFC 2397). Sliced by index, not matched by
 * regular expression: inline images run to megabytes and the payload is never scanned.
 */
const parseDataUrl = (url: string): DataUrl | undefined => {
  if (url.slice(0, 5).toLowerCase() !== "data:") return undefined
  const comma = url.indexOf(",")
  if (comma === -1) return undefined
  const params = url.slice(5, comma).split(";")
  return {
    mediaType: (params[0] ?? "").trim().toLowerCase(),
    base64: params.slice(1).some((p) => p.trim().toLowerCase() === "base64"),
    data: url.slice(comma + 1)
  }
}

const isHttpUrl = (url: string): boolean => /^https?:\/\//i.test(url)

const refuse = (field: string, message: string) => Either.left(new AnthropicTranslationError({ field, message }))

export const imageBlock = (
  url: string,
  field: string
): Either.Either<AnthropicImageBlock, AnthropicTranslationError> => {
  if (isHttpUrl(url)) return Either.right({ type: "image", source: { type: "url", url } })
  const parsed = parseDataUrl(url)
  if (parsed === undefined) {
    return refuse(field, "must be an http(s) URL or a base64 data: URL for Anthropic models")
  }
  const mediaType = imageTypes.get(parsed.mediaType)
  if (mediaType === undefined) {
    return refuse(field, "must be a JPEG, PNG, GIF or WebP image for Anthropic models")
  }
  if (!parsed.base64) return refuse(field, "must be a base64-encoded data: URL for Anthropic models")
  return Either.right({ type: "image", source: { type: "base64", media_type: mediaType, data: parsed.data } })
}

/**
 * An OpenAI `file` part. Chat Completions accepts PDFs there, inline as a data URL or bare
 * base64; Anthropic reads those as a PDF document. An uploaded OpenAI file id means nothing to
 * Anthropic.
 */
export const documentBlock = (
  file: { readonly file_data?: string; readonly file_id?: string; readonly filename?: string },
  field: string
): Either.Either<AnthropicDocumentBlock, AnthropicTranslationError> => {
  const title = file.filename !== undefined && file.filename !== "" ? { title: file.filename } : {}
  if (file.file_data === undefined || file.file_data === "") {
    return refuse(
      `${field}.file`,
      "must carry the file inline in file_data for Anthropic models (OpenAI file ids cannot be read there)"
    )
  }
  const parsed = parseDataUrl(file.file_data)
  if (parsed === undefined) {
    return Either.right({
      type: "document",
      source: { type: "base64", media_type: "application/pdf", data: file.file_data },
      ...title
    })
  }
  if (parsed.mediaType !== "application/pdf" || !parsed.base64) {
    return refuse(`${field}.file.file_data`, "must be a base64-encoded PDF for Anthropic models")
  }
  return Either.right({
    type: "document",
    source: { type: "base64", media_type: "application/pdf", data: parsed.data },
    ...title
  })
}
