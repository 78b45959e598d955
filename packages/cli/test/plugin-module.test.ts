// `--plugin SPEC`: a module file, a package directory, or a package name found from the
// current directory, each loaded as the command would; and a plugin that brings its own
// @mdevkit/core is named. Fixture packages live in a scratch folder under the OS temp
// directory, so nothing resolves through this repository's node_modules by accident.
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { isMdevError, THIS_CORE_COPY } from "@mdevkit/core";
import { afterAll, describe, expect, it } from "vitest";
import { loadPlugins } from "../src/load-plugins.js";
import { BUILTIN_PLUGINS } from "../src/plugins.js";

const scratch = realpathSync(mkdtempSync(join(tmpdir(), "mdevkit-plugin-spec-")));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Writes `files` (path relative to `root` → text) and returns `root`. */
function tree(root: string, files: Record<string, string>): string {
  for (const [rel, text] of Object.entries(files)) {
    const at = join(root, rel);
    mkdirSync(dirname(at), { recursive: true });
    writeFileSync(at, text);
  }
  return root;
}

/** A module exporting a plugin-shaped object named `name` as `how` (`default`, or a name). */
const pluginModule = (name: string, how = "default", prelude = ""): string =>
  `${prelude}const p = { name: ${JSON.stringify(name)}, deviceTypes: [], create() {} };\n` +
  (how === "default" ? "export default p;\n" : `export { p as ${how} };\n`);

/** A package.json whose entry is `dist/index.js` for import only, as the template's is. */
const packageJson = (name: string): string =>
  JSON.stringify({
    name,
    type: "module",
    exports: { ".": { types: "./dist/index.d.ts", import: "./dist/index.js" } },
  });

/** The one plugin `specs` added to the built-in ones. */
async function loadOne(spec: string, cwd = scratch, warnings: string[] = []): Promise<unknown> {
  const plugins = await loadPlugins([spec], { cwd, warn: (l) => warnings.push(l) });
  expect(plugins.slice(0, BUILTIN_PLUGINS.length)).toEqual(BUILTIN_PLUGINS);
  expect(plugins).toHaveLength(BUILTIN_PLUGINS.length + 1);
  return (plugins.at(-1) as { name: string }).name;
}

async function refusal(spec: string, cwd = scratch): Promise<Error & { code: string }> {
  const err = await loadPlugins([spec], { cwd, warn: () => {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isMdevError(err), `expected an MdevError, got ${String(err)}`).toBe(true);
  const e = err as Error & { code: string };
  expect(e.message.split("\n")).toHaveLength(1);
  expect(e.message).toContain(spec);
  return e;
}

describe("--plugin: where a plugin module is found", () => {
  const pkg = tree(join(scratch, "acme"), {
    "package.json": packageJson("@acme/plugin-acme"),
    "dist/index.js": pluginModule("acme"),
  });

  it("a module file, by absolute or relative path", async () => {
    expect(await loadOne(join(pkg, "dist/index.js"))).toBe("acme");
    expect(await loadOne("./acme/dist/index.js")).toBe("acme");
    expect(await loadOne("dist/index.js", pkg)).toBe("acme");
  });

  it("a package directory, through its package.json's exports or main", async () => {
    expect(await loadOne(pkg)).toBe("acme");
    expect(await loadOne("./acme")).toBe("acme");
    expect(await loadOne(".", pkg)).toBe("acme");
    const old = tree(join(scratch, "old-style"), {
      "package.json": JSON.stringify({ name: "old-style", type: "module", main: "lib/main.js" }),
      "lib/main.js": pluginModule("old", "plugin"),
    });
    expect(await loadOne(old)).toBe("old");
  });

  it("a package name, from node_modules above the current directory, not the command's", async () => {
    const project = tree(join(scratch, "project"), {
      "node_modules/@acme/plugin-named/package.json": packageJson("@acme/plugin-named"),
      "node_modules/@acme/plugin-named/dist/index.js": pluginModule("named"),
      "node_modules/@acme/plugin-named/dist/extra.js": pluginModule("extra"),
      "node_modules/@acme/plugin-named/lib/sub.js": pluginModule("sub"),
      "src/deep/.keep": "",
    });
    expect(await loadOne("@acme/plugin-named", project)).toBe("named");
    expect(await loadOne("@acme/plugin-named", join(project, "src/deep"))).toBe("named");
    // And the package the current directory is in, by its own name.
    expect(await loadOne("@acme/plugin-acme", join(pkg, "dist"))).toBe("acme");
    const missing = await refusal("@acme/plugin-named");
    expect(missing.code).toBe("ENOENT");
    expect(missing.message).toMatch(/is not installed in node_modules of .*mdevkit-plugin-spec-/);
  });

  it("refuses, in one line naming the argument, what it cannot load", async () => {
    const bare = tree(join(scratch, "not-a-package"), { "x.js": "" });
    const unbuilt = tree(join(scratch, "unbuilt"), {
      "package.json": packageJson("@acme/plugin-unbuilt"),
    });
    const named = tree(join(scratch, "named-only"), {
      "index.mjs": pluginModule("named-only", "acmeGpuPlugin"),
    });
    const cases: [string, string, RegExp][] = [
      [bare, "EINVAL", /is a directory without package\.json/],
      [unbuilt, "ENOENT", /its entry .*dist\/index\.js does not exist \(is the package built\?\)/],
      [join(scratch, "nowhere.mjs"), "ENOENT", /no such file or directory/],
      [
        join(named, "index.mjs"),
        "EINVAL",
        /exports neither default nor plugin \(add `export \{ acmeGpuPlugin as default \}`/,
      ],
    ];
    for (const [spec, code, message] of cases) {
      const e = await refusal(spec);
      expect([e.code, e.message], spec).toEqual([code, expect.stringMatching(message)]);
    }
  });
});

describe("--plugin: a plugin that brings its own @mdevkit/core", () => {
  const coreDist = join(THIS_CORE_COPY.dir, "dist");

  /**
   * A plugin package with its own node_modules/@mdevkit/core of `version`: the real
   * registration module of core (copied, so it is another module), or, with `registers`
   * false, a core too old to register.
   */
  function withOwnCore(name: string, version: string, registers = true): string {
    const root = tree(join(scratch, name), {
      "package.json": packageJson(`@acme/${name}`),
      "dist/index.js": pluginModule(name, "default", 'import "@mdevkit/core";\n'),
      "node_modules/@mdevkit/core/package.json": JSON.stringify({
        name: "@mdevkit/core",
        version,
        type: "module",
        exports: "./dist/index.js",
      }),
      "node_modules/@mdevkit/core/dist/index.js": registers
        ? 'export * from "./loaded-copies.js";\n'
        : "export const old = true;\n",
      "node_modules/@mdevkit/core/dist/version.js": `export const ENGINE_VERSION = "${version}";\n`,
    });
    copyFileSync(
      join(coreDist, "loaded-copies.js"),
      join(root, "node_modules/@mdevkit/core/dist/loaded-copies.js"),
    );
    return root;
  }

  it("warns, naming both copies, when the copy is of the command's version line", async () => {
    for (const [name, registers] of [
      ["own-core", true],
      ["own-old-core", false],
    ] as const) {
      const dir = withOwnCore(name, THIS_CORE_COPY.version, registers);
      const warnings: string[] = [];
      expect(await loadOne(dir, scratch, warnings)).toBe(name);
      expect(warnings, name).toEqual([
        expect.stringMatching(/^warning: plugin module .* loads its own @mdevkit\/core/),
      ]);
      expect(warnings[0]).toContain(join(dir, "node_modules/@mdevkit/core"));
      expect(warnings[0]).toContain(THIS_CORE_COPY.dir);
    }
  });

  it("refuses a copy of another version line", async () => {
    const dir = withOwnCore("far-core", "7.0.0");
    const e = await refusal(dir);
    expect(e.code).toBe("EINVAL");
    expect(e.message).toMatch(
      /loads @mdevkit\/core 7\.0\.0 from .*far-core.*, incompatible with this command's/,
    );
  });

  it("says nothing when the plugin shares the command's core", async () => {
    const dir = tree(join(scratch, "shares"), {
      "package.json": packageJson("@acme/shares"),
      "dist/index.js": pluginModule("shares", "default", 'import "@mdevkit/core";\n'),
    });
    // Resolves this repository's @mdevkit/core, as a plugin installed beside the command does.
    mkdirSync(join(dir, "node_modules/@mdevkit"), { recursive: true });
    symlinkSync(THIS_CORE_COPY.dir, join(dir, "node_modules/@mdevkit/core"), "dir");
    const warnings: string[] = [];
    expect(await loadOne(dir, scratch, warnings)).toBe("shares");
    expect(warnings).toEqual([]);
  });
});
