// Once per test run: the compiled entry points the process-level tests start (what `npm start`
// and the services' production commands run), built from the sources under test.
import { execFileSync } from "node:child_process"

export default function setup() {
  execFileSync(process.execPath, [new URL("./build.mjs", import.meta.url).pathname], { stdio: "inherit" })
}
