import { fileURLToPath } from "node:url";

// Shared vitest settings for every workspace package.
// tsyringe reads constructor parameter types from decorator metadata; without legacy
// decorators + emitted metadata it silently injects `undefined`.
/** @returns {import("vitest/config").UserConfig} */
export function mdevkitVitestDefaults(overrides = {}) {
  return {
    oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
    test: {
      include: ["test/**/*.test.ts"],
      setupFiles: [fileURLToPath(new URL("./vitest.setup.js", import.meta.url))],
      reporters: ["default", "json"],
      outputFile: { json: ".vitest-report.json" },
      // A timeout here catches a hang; it is not a speed bound. CPU-bound tests (the
      // exhaustive bit-flip and fuzz tests) take 2-6 s on a quiet machine and 10-14 s
      // beside the other workspaces in `npm test` on two cores, and this host runs 2-3x
      // slower at some hours: 30 s was within reach of a test that had no bug.
      testTimeout: 120_000,
      hookTimeout: 60_000,
      // Test files share a worker's module graph instead of importing core, zod and the
      // plugins afresh for each file: on CI's two cores, re-importing was most of the
      // suite's CPU (core alone: 130 → 53 CPU-seconds). Tests restore what they mock.
      isolate: false,
      ...overrides,
    },
  };
}
