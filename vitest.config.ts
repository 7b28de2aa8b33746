import { defineConfig } from "vitest/config"

/**
 * Two groups. The timing-sensitive suites (the security gate's SEC-1.5 / SEC-3.4, failure
 * injection with its 50 ms budget and flood comparison, two-instance revocation) measure
 * latency, so they run after everything else, one file at a time, on a machine no other test
 * file is loading. Everything else runs in parallel first.
 */
const timing = [
  "apps/stack/test/security.*.test.ts",
  "apps/stack/test/failureInjection.test.ts",
  "apps/stack/test/pushedChanges.test.ts",
  "apps/auth/test/revocation.test.ts",
  "apps/auth/test/tokenTiming.test.ts",
  "packages/persistence-pg/test/feed.test.ts",
  "packages/auth-adapter-grpc/test/client.test.ts",
  "apps/stack/test/limiterUnderLoad.test.ts"
]
/**
 * Issue 11's acceptance measurements under load (two auth instances and two proxies under c16
 * with silent blackholes, a 1,000-guess Argon2id flood). Not part of `npm test`: the revocation
 * rows pass (about 3 minutes), the flood row has met its bound in 31 of the 37 runs since the refusal pacer
 * on a fast machine and about half the time on a slow one (docs/PERFORMANCE.md, "Seventh" to "Twelfth
 * session"). Run them with `npm run test:acceptance` on a quiet machine.
 */
const acceptance = ["packages/auth-adapter-grpc/test/argon2Flood.test.ts", "apps/stack/test/edgeRevocation.test.ts"]
const all = ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts"]

const shared = {
  globalSetup: ["scripts/vitest-global-setup.mjs"],
  testTimeout: 30_000,
  hookTimeout: 120_000,
  pool: "forks" as const
}

export default defineConfig({
  test: {
    reporters: process.env.CI ? ["default", ["json", { outputFile: ".ci/vitest-report.json" }]] : ["default"],
    projects: [
      {
        test: {
          ...shared,
          name: "suite",
          include: all,
          exclude: [...timing, ...acceptance, "**/node_modules/**"],
          sequence: { groupOrder: 0 }
        }
      },
      {
        test: { ...shared, name: "timing", include: timing, fileParallelism: false, sequence: { groupOrder: 1 } }
      },
      {
        test: {
          ...shared,
          name: "acceptance",
          include: acceptance,
          fileParallelism: false,
          sequence: { groupOrder: 2 }
        }
      }
    ]
  }
})
