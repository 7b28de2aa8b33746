// Reads vitest's JSON report and prints CI's last line, "N passed, N failed"; exits non-zero on
// any failure. Failed = failed tests + files that failed outside their tests (load or hook
// errors) + tests that did not run (skipped, todo): in CI nothing may skip, so a green run has
// run every suite. A non-zero `npm test` with nothing else failed still counts as one failure.
// Usage: node .ci/summary.mjs <report.json> <npm test exit status>
import { readFileSync } from "node:fs"

const [reportPath, statusArg = "0"] = process.argv.slice(2)
const report = JSON.parse(readFileSync(reportPath, "utf8"))
const notRun = new Set(["skipped", "pending", "todo", "disabled"])
const skipped = []
let brokenFiles = 0
for (const file of report.testResults ?? []) {
  const results = file.assertionResults ?? []
  if (file.status === "failed" && !results.some((a) => a.status === "failed")) {
    brokenFiles++
    console.log(`CI: ${file.name} failed outside its tests: ${String(file.message ?? "").split("\n")[0]}`)
  }
  for (const a of results) if (notRun.has(a.status)) skipped.push(`${file.name} > ${a.fullName}`)
}
if (skipped.length > 0) {
  console.log(`CI: ${skipped.length} test(s) did not run; CI counts each as a failure:`)
  for (const s of skipped) console.log(`  skipped: ${s}`)
}
let failed = (report.numFailedTests ?? 0) + brokenFiles + skipped.length
if (failed === 0 && Number(statusArg) !== 0) {
  console.log(`CI: npm test exited ${statusArg} with no failed test in the report`)
  failed = 1
}
console.log(`${report.numPassedTests ?? 0} passed, ${failed} failed`)
process.exit(failed > 0 ? 1 : 0)
