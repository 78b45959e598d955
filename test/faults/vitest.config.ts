import { defineConfig } from "vitest/config";
import { mdevkitVitestDefaults } from "../../vitest.shared.js";

// The matrix starts three real mdevkit processes per cell and stalls some for seconds; on
// a 2-core machine they need the cores to themselves, hence one file at a time and
// timeouts far above what a cell normally takes.
export default defineConfig(
  mdevkitVitestDefaults({ testTimeout: 180_000, hookTimeout: 60_000, fileParallelism: false }),
);
