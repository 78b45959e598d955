/**
 * The vitest settings a plugin package needs to run the suite, outside this repository
 * as inside it: `@mdevkit/conformance/vitest-preset`.
 *
 * ```ts
 * // vitest.config.ts
 * import { mdevkitVitestConfig } from "@mdevkit/conformance/vitest-preset";
 * import { defineConfig } from "vitest/config";
 * export default defineConfig(mdevkitVitestConfig());
 * ```
 * @module
 */
import { fileURLToPath } from "node:url";
import type { TestUserConfig, ViteUserConfig } from "vitest/config";

/** The setup file every test file gets: it loads `reflect-metadata` before any plugin code. */
export const VITEST_SETUP_FILE: string = fileURLToPath(
  new URL("./vitest-setup.js", import.meta.url),
);

/**
 * A vitest config for a plugin package: legacy decorators with emitted metadata (without
 * them tsyringe silently injects `undefined`), `reflect-metadata` loaded first, tests in
 * `test/**\/*.test.ts`, 120 s per test (a hang detector, not a speed bound: a loaded CI
 * machine runs a test many times slower). `test` overrides or adds test options.
 */
export function mdevkitVitestConfig(test: TestUserConfig = {}): ViteUserConfig {
  return {
    oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
    test: {
      include: ["test/**/*.test.ts"],
      setupFiles: [VITEST_SETUP_FILE],
      testTimeout: 120_000,
      ...test,
    },
  };
}
