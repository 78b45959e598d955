import { defineConfig } from "vitest/config";
import { mdevkitVitestDefaults } from "../../vitest.shared.js";

// Every test starts two or three real mdevkit processes that migrate whole VMs; on a
// 2-core machine they need the cores to themselves, hence one file at a time and a
// timeout far above the few seconds a test normally takes.
export default defineConfig(
  mdevkitVitestDefaults({ testTimeout: 120_000, hookTimeout: 30_000, fileParallelism: false }),
);
