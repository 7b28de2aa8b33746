import type { Dialect, ErrorAnswer, Failure } from "./dialect.js"
import { openAI, openAIFailure, statusMessage } from "./openai.js"

/**
 * Azure OpenAI: `POST /openai/deployments/{deployment}/chat/completions?api-version=...`.
 * Bodies are OpenAI's with the deployment as the model. Azure's own gateway errors (missing
 * api-version, bad key, throttling) use its `{error: {code: "<status>", message}}` envelope;
 * errors the model itself raises (context length, bad parameters) pass through in OpenAI's shape.
 */

const azureError = (status: number, message: string): ErrorAnswer => ({
  status,
  body: { error: { code: String(status), message } }
})

const azureFailure = (failure: Failure): ErrorAnswer => {
  switch (failure.reason) {
    case "unauthorized":
      return azureError(
        401,
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."
      )
    // Azure answers a missing api-version the same way as an unknown path.
    case "version-missing":
    case "not-found":
      return azureError(404, "Resource not found")
    case "status":
      return azureError(failure.status, statusMessage(failure.status, failure.message))
    default:
      return openAIFailure(failure)
  }
}

export const azure: Dialect = {
  ...openAI,
  name: "azure-openai",
  precheck: (req) => (req.query["api-version"] ? undefined : { reason: "version-missing" }),
  authorized: (req, apiKey) => req.headers["api-key"] === apiKey,
  headers: (n) => ({ "apim-request-id": `req_mock_${n}`, "x-request-id": `req_mock_${n}` }),
  failure: azureFailure
}
