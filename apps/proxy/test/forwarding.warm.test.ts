import { forwardingSuite } from "./forwardingSuite.js"

// Untraced: a warm, non-streamed chat is answered without a request fiber (chat/warmChat.ts).
forwardingSuite(false)
