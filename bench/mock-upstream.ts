// The mock provider as its own process (the same server the tests and `npm start` use), for the
// forwarding scenarios. Usage: node dist/bench/mock-upstream.mjs <port>   (prints the port when listening)
import { startMockUpstream } from "@ibex/mock-upstream"

const mock = await startMockUpstream({ host: "127.0.0.1", port: Number(process.argv[2] ?? 0), maxRecorded: 0 })
console.log(mock.port)
process.on("SIGTERM", () => {
  void mock.close().then(() => process.exit(0))
})
