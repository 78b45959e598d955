import { defineConfig } from "vitest/config";
import { mdevkitVitestDefaults } from "../../vitest.shared.js";

// A cell starts three real mdevkit processes and stalls some for seconds. Files run one at
// a time; within the matrix file FAULTS_CONCURRENCY cells (default 2) run side by side, as
// cells mostly wait. Timeouts are far above what a cell takes on a loaded 2-core machine.
export default defineConfig(
  mdevkitVitestDefaults({
    testTimeout: 240_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    maxConcurrency: Number(process.env["FAULTS_CONCURRENCY"] ?? "2"),
  }),
);
