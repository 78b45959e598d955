import { defineConfig } from "vitest/config";
import { mdevkitVitestDefaults } from "../../vitest.shared.js";

export default defineConfig(mdevkitVitestDefaults());
