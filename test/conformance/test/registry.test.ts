import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SuiteApi } from "@mdevkit/conformance";
import type { VendorPlugin } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { PLUGINS, registerMatrix, selectedPlugins } from "../registry.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const HERE = fileURLToPath(new URL("../", import.meta.url));

interface PackageJson {
  readonly name: string;
  readonly devDependencies?: Record<string, string>;
}

const readJson = (path: string): PackageJson =>
  JSON.parse(readFileSync(path, "utf8")) as PackageJson;

/** Every workspace under plugins/: directory and package.json. */
const workspaces = readdirSync(join(REPO, "plugins"), { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(REPO, "plugins", e.name, "package.json")))
  .map((e) => {
    const dir = join(REPO, "plugins", e.name);
    return { dir, folder: e.name, pkg: readJson(join(dir, "package.json")) };
  });

function isPlugin(value: unknown): value is VendorPlugin {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<VendorPlugin>;
  return typeof v.name === "string" && typeof v.create === "function" && "migrationFlags" in v;
}

/** A SuiteApi that records the names of the blocks it is given instead of running them. */
function recordingApi(): { api: SuiteApi; suites: string[]; tests: number } {
  const out = { suites: [] as string[], tests: 0 };
  const it = Object.assign(
    () => {
      out.tests++;
    },
    { skip: () => {} },
  );
  const api: SuiteApi = {
    describe: (name, fn) => {
      if (name.startsWith("conformance: ")) out.suites.push(name);
      fn();
    },
    it,
  };
  return {
    api,
    get suites() {
      return out.suites;
    },
    get tests() {
      return out.tests;
    },
  };
}

describe("MDEVKIT_PLUGINS selection", () => {
  it("selects every plugin when unset or empty", () => {
    expect(selectedPlugins(undefined).map(([n]) => n)).toEqual(Object.keys(PLUGINS));
    expect(selectedPlugins(" ").map(([n]) => n)).toEqual(Object.keys(PLUGINS));
  });

  it("selects the named plugins and refuses unknown names", () => {
    expect(selectedPlugins("mtty").map(([n]) => n)).toEqual(["mtty"]);
    expect(() => selectedPlugins("mtty,no-such-plugin")).toThrow(
      /unknown plugin\(s\) no-such-plugin; known: mtty/,
    );
  });

  it("registers one suite per selected plugin, named after it", () => {
    const all = recordingApi();
    registerMatrix(undefined, all.api);
    expect(all.suites).toHaveLength(Object.keys(PLUGINS).length);
    for (const [name, entry] of Object.entries(PLUGINS)) {
      expect(entry.plugin.name).toBe(name);
      expect(all.suites.some((s) => s.startsWith(`conformance: ${name} `))).toBe(true);
    }
    expect(all.tests).toBeGreaterThan(0);
    const one = recordingApi();
    registerMatrix("mtty", one.api);
    expect(one.suites).toEqual([expect.stringMatching(/^conformance: mtty /)]);
  });
});

// The matrix is not run by `npm test` (each plugin runs its own suite there), so these
// checks are what keep it, and each plugin's own run, from silently missing a plugin.
describe.each(workspaces)("plugins/$folder", ({ dir, pkg }) => {
  it("is in the matrix: a devDependency here and an entry holding the plugin it exports", async () => {
    expect(readJson(join(HERE, "package.json")).devDependencies).toHaveProperty(pkg.name);
    const exported = Object.values(await import(pkg.name)).filter(isPlugin);
    expect(exported, `${pkg.name} exports no VendorPlugin`).not.toHaveLength(0);
    const entries = Object.values(PLUGINS).map((e) => e.plugin);
    for (const plugin of exported) expect(entries).toContain(plugin);
  });

  it("runs the suite itself from test/conformance.test.ts, depending on @mdevkit/conformance", () => {
    const file = join(dir, "test", "conformance.test.ts");
    expect(existsSync(file), `${file} is missing`).toBe(true);
    expect(readFileSync(file, "utf8")).toMatch(/describeVendorDriverConformance(<[^>]*>)?\(/);
    expect(pkg.devDependencies).toHaveProperty("@mdevkit/conformance");
  });
});
