import { mdevkitVitestConfig } from "@mdevkit/conformance/vitest-preset";
import { defineConfig } from "vitest/config";

// Legacy decorators with metadata and reflect-metadata loaded first: what mdevkit needs.
export default defineConfig(mdevkitVitestConfig());
