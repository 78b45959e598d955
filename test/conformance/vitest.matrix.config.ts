import { defineConfig } from "vitest/config";
import { mdevkitVitestDefaults } from "../../vitest.shared.js";

// The matrix writes no JSON report: `npm test`'s summary must count each suite once.
export default defineConfig(
  mdevkitVitestDefaults({ include: ["matrix/**/*.test.ts"], reporters: ["default"] }),
);
