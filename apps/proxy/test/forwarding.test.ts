import { forwardingSuite } from "./forwardingSuite.js"

// Traced: every request runs in a fiber, under its spans.
forwardingSuite(true)
