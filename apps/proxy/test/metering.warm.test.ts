import { meteringSuite } from "./meteringSuite.js"

// Untraced: warm requests are answered without a request fiber (chat/warmChat.ts).
meteringSuite(false)
