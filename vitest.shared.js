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
      testTimeout: 30_000,
      ...overrides,
    },
  };
}
