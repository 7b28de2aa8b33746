// Preload for a service under load: which allocation sites feed V8's old space.
//
//   node --import=./bench/promoted-heap.mjs dist/apps/proxy/main.mjs
//
// V8's sampling heap profiler starts 8 s after start-up (module loading would dominate otherwise)
// and keeps only samples the young generation did not collect: objects that were promoted, or
// allocated old. SIGTERM writes `promoted-<pid>.heapprofile` to PROMOTED_HEAP_DIR (default: the
// working directory); open it in Chrome DevTools' Memory tab. The service's own SIGTERM handling
// (drain) runs as usual. Used in docs/PERFORMANCE.md, "Ninth session".
import { writeFileSync } from "node:fs"
import inspector from "node:inspector"
import { join } from "node:path"

const session = new inspector.Session()
session.connect()
session.post("HeapProfiler.enable")
setTimeout(() => {
  session.post("HeapProfiler.startSampling", {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: false
  })
}, 8_000).unref()
process.once("SIGTERM", () => {
  session.post("HeapProfiler.stopSampling", (error, result) => {
    if (error) return
    const dir = process.env.PROMOTED_HEAP_DIR ?? process.cwd()
    writeFileSync(join(dir, `promoted-${process.pid}.heapprofile`), JSON.stringify(result.profile))
  })
})
