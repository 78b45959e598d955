import { defineConfig } from "vitest/config";
import { mdevkitVitestDefaults } from "../../vitest.shared.js";

// In the normal suite each property runs a small, fixed number of inputs; `npm run fuzz`
// (FUZZ_RUNS set) runs them for minutes, so the timeout follows. One file at a time: the
// restore and CLI properties build VMs with vCPU threads, and the machine has two cores.
const long = Number(process.env["FUZZ_RUNS"] ?? 0) > 0;
export default defineConfig(
  mdevkitVitestDefaults({
    testTimeout: long ? 3 * 3600_000 : 300_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  }),
);
