import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { loadDotEnv } from "@ibex/app-common"
import { exitCodeOf, runCli } from "./Cli.js"

// `.env` in the working directory, as the services read it; the environment wins.
loadDotEnv()

NodeRuntime.runMain(runCli(process.argv), {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => {
    const code = exitCodeOf(exit)
    process.exitCode = code
    onExit(code)
  }
})
