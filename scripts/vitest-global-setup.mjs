// Once per test run: the compiled entry points the process-level tests start (what `npm start`
// and the services' production commands run), built from the sources under test.
// IBEX_SKIP_BUILD=1 skips it for a quick run of unit tests that start no process.
import { execFileSync } from "node:child_process"

export default function setup() {
  if (process.env.IBEX_SKIP_BUILD === "1") return
  execFileSync(process.execPath, [new URL("./build.mjs", import.meta.url).pathname], { stdio: "inherit" })
}
