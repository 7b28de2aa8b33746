import { meteringSuite } from "./meteringSuite.js"

// Traced: every request runs in a fiber, under its spans.
meteringSuite(true)
