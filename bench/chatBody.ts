// The bench's chat request bodies, one definition for every measurement that sends or parses them.

/** A realistic ~4 KB chat completion request (system prompt, a few turns, sampling options). */
export const chatBody = (() => {
  const para =
    "The quarterly report lists revenue by region, churn by plan and the support backlog; summarise the trends, " +
    "flag anything unusual and propose two follow-up questions for the finance team. "
  const body = {
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: `You are a careful analyst. ${para.repeat(3)}` },
      { role: "user", content: para.repeat(8) },
      { role: "assistant", content: para.repeat(4) },
      { role: "user", content: para.repeat(7) }
    ],
    temperature: 0.2,
    top_p: 0.9,
    max_tokens: 512,
    user: "bench-user-1"
  }
  let text = JSON.stringify(body)
  // Trim to ~4 KB on the last message.
  while (Buffer.byteLength(text) > 4096) {
    body.messages[3] = { role: "user", content: (body.messages[3]?.content ?? "").slice(0, -16) }
    text = JSON.stringify(body)
  }
  return text
})()

/** The same request, streamed. */
export const streamingChatBody = JSON.stringify({ ...JSON.parse(chatBody), stream: true })
