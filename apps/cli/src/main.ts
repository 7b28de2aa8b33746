import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { exitCodeOf, runCli } from "./Cli.js"

NodeRuntime.runMain(runCli(process.argv), {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => {
    const code = exitCodeOf(exit)
    process.exitCode = code
    onExit(code)
  }
})
