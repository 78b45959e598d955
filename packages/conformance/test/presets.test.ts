import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { mdevkitVitestConfig, VITEST_SETUP_FILE } from "../src/vitest-preset.js";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const json = (p: string) => JSON.parse(readFileSync(here(p), "utf8"));

describe("presets for plugin packages outside the repository", () => {
  it("tsconfig.base.json compiles plugins exactly as the repository does", () => {
    expect(json("../tsconfig.base.json")).toEqual(json("../../../tsconfig.base.json"));
  });

  it("the vitest preset sets decorator metadata, loads reflect-metadata first, and merges overrides", () => {
    const config = mdevkitVitestConfig({ testTimeout: 5 });
    expect(config.oxc).toEqual({ decorator: { legacy: true, emitDecoratorMetadata: true } });
    expect(config.test?.setupFiles).toEqual([VITEST_SETUP_FILE]);
    expect(config.test?.include).toEqual(["test/**/*.test.ts"]);
    expect(config.test?.testTimeout).toBe(5);
    // From src the setup file is the .ts beside the preset; the package ships the .js.
    expect(existsSync(VITEST_SETUP_FILE.replace(/\.js$/, ".ts"))).toBe(true);
    expect(readFileSync(VITEST_SETUP_FILE.replace(/\.js$/, ".ts"), "utf8")).toContain(
      'import "reflect-metadata";',
    );
  });

  it("the package exports and ships the presets", () => {
    const pkg = json("../package.json");
    expect(pkg.exports["./vitest-preset"].import).toBe("./dist/vitest-preset.js");
    expect(pkg.exports["./vitest-setup"].import).toBe("./dist/vitest-setup.js");
    expect(pkg.exports["./tsconfig.base.json"]).toBe("./tsconfig.base.json");
    expect(pkg.files).toEqual(expect.arrayContaining(["dist", "tsconfig.base.json"]));
    expect(pkg.dependencies["reflect-metadata"]).toBeDefined();
    expect(JSON.stringify(pkg)).not.toContain("plugin-mtty");
  });
});
