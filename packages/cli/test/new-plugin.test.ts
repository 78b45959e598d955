import { execFile } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import {
  createHost,
  createMemoryChannelPair,
  isMdevError,
  MigrationSource,
  MigrationTarget,
  parseVmConfig,
  SimulatedVm,
  type VendorPlugin,
} from "@mdevkit/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { newPluginCommand } from "../src/commands/new-plugin.js";
import {
  ENTRIES_MARKER,
  insertImport,
  PLUGIN_TEMPLATE_DIR,
  pluginNames,
  REGISTRY_FILES,
  STANDALONE_TOOL_VERSIONS,
} from "../src/scaffold/index.js";

const run = promisify(execFile);
const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const BIN = fileURLToPath(new URL("../bin/mdevkit.js", import.meta.url));
const TSC = join(REPO, "node_modules/typescript/bin/tsc");
const VITEST = join(REPO, "node_modules/vitest/vitest.mjs");
const BIOME = join(REPO, "node_modules/@biomejs/biome/bin/biome");

/** Every file the template produces, relative to the plugin directory. */
const EXPECTED_FILES = [
  "README.md",
  "package.json",
  "src/capabilities.ts",
  "src/compatibility.ts",
  "src/conformance-options.ts",
  "src/describe.ts",
  "src/device.ts",
  "src/driver.ts",
  "src/guest.ts",
  "src/index.ts",
  "src/plugin.ts",
  "src/state-format.ts",
  "test/conformance.test.ts",
  "test/device.test.ts",
  "tsconfig.build.json",
  "tsconfig.json",
  "vitest.config.ts",
];

/**
 * The generated sources import `@mdevkit/conformance`. Turbo builds it before cli's tests
 * (a devDependency); a run of this file alone without that build skips the compile and
 * conformance checks (with this reason) rather than fail.
 */
const conformanceBuilt = existsSync(join(REPO, "packages/conformance/dist/index.d.ts"));

/**
 * A throwaway monorepo: the real root's tsconfig.base.json, vitest.shared.js and biome.json, a
 * `plugins/*` workspace, copies of the files that list every plugin (the conformance
 * matrix, the CLI's built-in plugins and the fuzz suite's, with their package.json
 * files), and the real node_modules symlinked in, so generated code resolves `@mdevkit/*` to the built
 * packages exactly as it would inside the repository, without running npm install.
 */
function makeRepo(): string {
  const root = mkdtempSync(join(tmpdir(), "mdevkit-new-plugin-"));
  writeFileSync(
    join(root, "package.json"),
    JSON.stringify({ name: "scratch", private: true, type: "module", workspaces: ["plugins/*"] }),
  );
  for (const f of ["tsconfig.base.json", "vitest.shared.js", "vitest.setup.js", "biome.json"]) {
    if (existsSync(join(REPO, f))) copyFileSync(join(REPO, f), join(root, f));
  }
  for (const f of Object.values(REGISTRY_FILES)) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    copyFileSync(join(REPO, f), join(root, f));
  }
  symlinkSync(join(REPO, "node_modules"), join(root, "node_modules"), "dir");
  return root;
}

/** Environment for child tools, without this vitest's own worker variables. */
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST") && k !== "NODE_OPTIONS"),
  );
}

async function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; printed: string }> {
  let printed = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    printed += String(chunk);
    return true;
  });
  try {
    return { value: await fn(), printed };
  } finally {
    spy.mockRestore();
  }
}

async function expectRefused(promise: Promise<unknown>, code: string, pattern: RegExp) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isMdevError(err), `expected an MdevError, got ${String(err)}`).toBe(true);
  const e = err as Error & { code: string };
  expect(e.code).toBe(code);
  expect(e.message).toMatch(pattern);
  expect(e.message).not.toContain("\n");
}

/** The fields of vitest's JSON report this test reads. */
interface VitestReport {
  readonly numPassedTests: number;
  readonly numFailedTests: number;
  readonly testResults: readonly { readonly name: string }[];
}

let repo: string;
let pluginDir: string;

beforeAll(async () => {
  repo = makeRepo();
  // From a subdirectory: the root is found by walking up to the package.json with workspaces.
  const cwd = join(repo, "plugins");
  mkdirSync(cwd);
  const { value } = await quietly(() => newPluginCommand("demo-dev", { cwd }));
  pluginDir = value.dir;
});

afterAll(() => {
  if (repo) rmSync(repo, { recursive: true, force: true });
});

describe("plugin names", () => {
  it("derives the package and identifiers", () => {
    expect(pluginNames("demo-dev")).toEqual({
      name: "demo-dev",
      packageName: "@mdevkit/plugin-demo-dev",
      pascal: "DemoDev",
      camel: "demoDev",
    });
    expect(pluginNames("gpu2-x").pascal).toBe("Gpu2X");
  });

  it.each(["", "Demo", "1dev", "-dev", "dev-", "a--b", "a_b", "a.b", "a b", "x".repeat(51)])(
    "refuses %j with a one-line EINVAL",
    async (name) => {
      await expectRefused(
        newPluginCommand(name, { cwd: repo }),
        "EINVAL",
        /invalid plugin name .*lowercase letters/,
      );
    },
  );

  it("points a scoped name to the short form", async () => {
    await expectRefused(
      newPluginCommand("@mdevkit/plugin-x", { cwd: repo }),
      "EINVAL",
      /give the short name/,
    );
  });

  it("refuses a name whose driver class would shadow core's", async () => {
    await expectRefused(newPluginCommand("vendor", { cwd: repo }), "EINVAL", /clash/);
  });
});

describe("mdevkit new-plugin", () => {
  it("writes every template file into <root>/plugins/NAME and says npm install is needed", async () => {
    expect(pluginDir).toBe(join(repo, "plugins", "demo-dev"));
    for (const f of EXPECTED_FILES) expect(existsSync(join(pluginDir, f)), f).toBe(true);
    const { value, printed } = await quietly(() =>
      newPluginCommand("other-dev", { cwd: repo, dir: "plugins" }),
    );
    expect([...value.files]).toEqual(EXPECTED_FILES);
    expect(value.isWorkspace).toBe(true);
    expect(printed).toContain("npm install");
    expect(printed).toContain("npx turbo run build test --filter=@mdevkit/plugin-other-dev");
  });

  it("leaves no placeholder and names everything after the plugin", () => {
    for (const f of EXPECTED_FILES) {
      const text = readFileSync(join(pluginDir, f), "utf8");
      expect(text, f).not.toMatch(/__[A-Za-z][A-Za-z_]*__/);
    }
    const src = (f: string) => readFileSync(join(pluginDir, f), "utf8");
    expect(src("src/driver.ts")).toContain(
      "export class DemoDevDriver extends AbstractVendorDriver",
    );
    expect(src("src/plugin.ts")).toContain("export const demoDevPlugin: VendorPlugin");
    expect(src("src/capabilities.ts")).toContain('PLUGIN_NAME = "demo-dev"');
    expect(src("test/conformance.test.ts")).toContain(
      "describeVendorDriverConformance(demoDevPlugin, demoDevConformanceOptions)",
    );
    expect(src("vitest.config.ts")).toContain('from "../../vitest.shared.js"');
    expect(JSON.parse(src("tsconfig.json")).extends).toBe("../../tsconfig.base.json");
    expect(JSON.parse(src("tsconfig.build.json")).extends).toBe("../../tsconfig.base.json");
  });

  it("writes a package.json for the workspace: ESM, types-first exports, scripts, dependencies", () => {
    const pkg = JSON.parse(readFileSync(join(pluginDir, "package.json"), "utf8"));
    expect(pkg.name).toBe("@mdevkit/plugin-demo-dev");
    expect(pkg.type).toBe("module");
    for (const entry of [pkg.exports["."], pkg.exports["./conformance"]]) {
      expect(Object.keys(entry)[0]).toBe("types");
    }
    expect(Object.keys(pkg.scripts).sort()).toEqual(["build", "test", "typecheck"]);
    expect(pkg.peerDependencies).toEqual({ "@mdevkit/core": "*" });
    expect(pkg.devDependencies["@mdevkit/core"]).toBe("*");
    expect(pkg.devDependencies["@mdevkit/conformance"]).toBe("*");
  });

  it("refuses an existing directory and leaves it alone", async () => {
    const marker = join(pluginDir, "README.md");
    writeFileSync(marker, "mine");
    await expectRefused(
      newPluginCommand("demo-dev", { cwd: repo }),
      "EEXIST",
      /already exists; choose another name or remove it/,
    );
    expect(readFileSync(marker, "utf8")).toBe("mine");
    const { value } = await quietly(() => newPluginCommand("xyz", { cwd: repo }));
    expect(existsSync(value.dir)).toBe(true);
  });

  it("--dir elsewhere: config paths still reach the root, and a folder outside the workspaces is named", async () => {
    const { value, printed } = await quietly(() =>
      newPluginCommand("deep-dev", { cwd: repo, dir: "vendor/acme" }),
    );
    expect(value.dir).toBe(join(repo, "vendor", "acme", "deep-dev"));
    expect(value.isWorkspace).toBe(false);
    expect(printed).toMatch(/vendor\/acme\/\* is not in .*workspaces/);
    const tsconfig = JSON.parse(readFileSync(join(value.dir, "tsconfig.json"), "utf8"));
    expect(tsconfig.extends).toBe("../../../tsconfig.base.json");
    expect(readFileSync(join(value.dir, "vitest.config.ts"), "utf8")).toContain(
      'from "../../../vitest.shared.js"',
    );
  });

  it("refuses to run outside a monorepo", async () => {
    const lonely = mkdtempSync(join(tmpdir(), "mdevkit-no-repo-"));
    try {
      await expectRefused(newPluginCommand("demo", { cwd: lonely }), "ENOENT", /no monorepo root/);
    } finally {
      rmSync(lonely, { recursive: true, force: true });
    }
  });

  it("is wired into the mdevkit command: success, and a bad name as one line on stderr", async () => {
    const ok = await run(process.execPath, [BIN, "new-plugin", "cli-dev", "--dir", "plugins"], {
      cwd: repo,
    });
    expect(ok.stdout).toContain("created plugins/cli-dev: @mdevkit/plugin-cli-dev, 17 files");
    const bad = await run(process.execPath, [BIN, "new-plugin", "Bad_Name"], { cwd: repo }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad?.code).toBe(1);
    expect(bad?.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^mdevkit: EINVAL: invalid plugin name "Bad_Name"/),
    ]);
  });

  it("generates Biome-clean code whatever the name sorts like", async () => {
    // Biome sorts imported names, and generated identifiers land anywhere in that order.
    const dirs = [pluginDir];
    for (const name of ["a", "zz-top", "m2x-q"]) {
      const { value } = await quietly(() => newPluginCommand(name, { cwd: repo }));
      dirs.push(value.dir);
    }
    const lint = await run(process.execPath, [BIOME, "check", "--vcs-enabled=false", ...dirs], {
      cwd: repo,
      env: childEnv(),
    }).catch((e: { stdout?: string; stderr?: string }) => {
      throw new Error(`Biome refused generated code:\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
    });
    expect(lint.stdout + lint.stderr).toMatch(/Checked \d+ files/);
  });

  it("reads the template from packages/cli/templates/plugin", () => {
    expect(PLUGIN_TEMPLATE_DIR).toBe(join(REPO, "packages/cli/templates/plugin/"));
  });
});

describe("registration in the repository's plugin lists (on copies of them)", () => {
  const read = (f: string) => readFileSync(join(repo, f), "utf8");

  it("adds the imports and the matrix entry, the CLI entry, the fuzz entry, and the dependencies", () => {
    const matrix = read(REGISTRY_FILES.matrix);
    expect(matrix).toContain('import { demoDevPlugin } from "@mdevkit/plugin-demo-dev";');
    expect(matrix).toContain(
      'import { demoDevConformanceOptions } from "@mdevkit/plugin-demo-dev/conformance";',
    );
    const entry = '"demo-dev": { plugin: demoDevPlugin, options: demoDevConformanceOptions },';
    expect(matrix).toContain(`\n  ${entry}\n`);
    expect(matrix.indexOf(entry)).toBeLessThan(matrix.indexOf(ENTRIES_MARKER));
    const cli = read(REGISTRY_FILES.cli);
    expect(cli).toContain('import { demoDevPlugin } from "@mdevkit/plugin-demo-dev";');
    expect(cli).toMatch(/\n {2}demoDevPlugin,\n/);
    const matrixPkg = JSON.parse(read(REGISTRY_FILES.matrixPackage));
    expect(matrixPkg.devDependencies["@mdevkit/plugin-demo-dev"]).toBe("*");
    const cliPkg = JSON.parse(read(REGISTRY_FILES.cliPackage));
    expect(cliPkg.dependencies["@mdevkit/plugin-demo-dev"]).toBe("*");
    // The fuzz suite feeds every plugin's device-state loader mutated images.
    const fuzz = read(REGISTRY_FILES.fuzz);
    expect(fuzz).toContain('import { demoDevPlugin } from "@mdevkit/plugin-demo-dev";');
    expect(fuzz).toContain(
      'import { demoDevConformanceOptions } from "@mdevkit/plugin-demo-dev/conformance";',
    );
    const fuzzEntry = 'fuzzed("demo-dev", demoDevPlugin, demoDevConformanceOptions),';
    expect(fuzz).toContain(`\n  ${fuzzEntry}\n`);
    expect(fuzz.indexOf(fuzzEntry)).toBeLessThan(fuzz.indexOf(ENTRIES_MARKER));
    const fuzzPkg = JSON.parse(read(REGISTRY_FILES.fuzzPackage));
    expect(fuzzPkg.devDependencies["@mdevkit/plugin-demo-dev"]).toBe("*");
    // The entries already there (mtty, and whatever was registered before) are kept.
    expect(matrix).toContain("mtty: { plugin: mttyPlugin, options: mttyConformanceOptions },");
    expect(cli).toMatch(/\n {2}mttyPlugin,\n/);
    expect(fuzz).toContain('fuzzed("mtty", mttyPlugin, mttyConformanceOptions),');
  });

  it("keeps the lists sorted, Biome-clean and typed for plugins that sort anywhere", async () => {
    for (const name of ["aa-first", "zz-last"]) {
      await quietly(() => newPluginCommand(name, { cwd: repo }));
    }
    const matrix = read(REGISTRY_FILES.matrix);
    const at = (s: string) => matrix.indexOf(s);
    expect(at("@mdevkit/plugin-aa-first")).toBeLessThan(at("@mdevkit/plugin-demo-dev"));
    expect(at("@mdevkit/plugin-demo-dev")).toBeLessThan(at("@mdevkit/plugin-mtty"));
    expect(at("@mdevkit/plugin-mtty")).toBeLessThan(at("@mdevkit/plugin-zz-last"));
    const lists = [REGISTRY_FILES.matrix, REGISTRY_FILES.cli, REGISTRY_FILES.fuzz];
    const files = lists.map((f) => join(repo, f));
    await run(process.execPath, [BIOME, "check", "--vcs-enabled=false", ...files], {
      cwd: repo,
      env: childEnv(),
    }).catch((e: { stdout?: string; stderr?: string }) => {
      throw new Error(`Biome refused the edited lists:\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
    });
    // The edited lists compile against the generated plugins' sources (not linked by npm
    // here, so mapped by path).
    const paths: Record<string, string[]> = {};
    for (const name of readdirSync(join(repo, "plugins"))) {
      paths[`@mdevkit/plugin-${name}`] = [`plugins/${name}/src/index.ts`];
      paths[`@mdevkit/plugin-${name}/conformance`] = [`plugins/${name}/src/conformance-options.ts`];
    }
    writeFileSync(
      join(repo, "tsconfig.lists.json"),
      JSON.stringify({
        extends: "./tsconfig.base.json",
        compilerOptions: { noEmit: true, baseUrl: ".", paths },
        files: lists,
      }),
    );
    await run(process.execPath, [TSC, "-p", "tsconfig.lists.json"], {
      cwd: repo,
      env: childEnv(),
    }).catch((e: { stdout?: string; stderr?: string }) => {
      throw new Error(
        `the edited lists do not typecheck:\n${e.stdout ?? ""}\n${e.stderr ?? ""}\n${read(REGISTRY_FILES.matrix)}`,
      );
    });
  }, 120_000);

  it("registers once: a plugin already listed is not added again", () => {
    const before = read(REGISTRY_FILES.matrix);
    const line = 'import { demoDevPlugin } from "@mdevkit/plugin-demo-dev";';
    expect(insertImport(before, line, "@mdevkit/plugin-demo-dev")).toBe(before);
    expect(before.split(line)).toHaveLength(2);
  });

  it("refuses, before creating anything, when a list has lost its marker line", async () => {
    const cli = join(repo, REGISTRY_FILES.cli);
    const saved = readFileSync(cli, "utf8");
    writeFileSync(cli, saved.replace(ENTRIES_MARKER, "// (marker removed)"));
    try {
      await expectRefused(
        newPluginCommand("no-marker", { cwd: repo }),
        "ENOENT",
        /packages\/cli\/src\/plugins\.ts has no "\/\/ mdevkit new-plugin: entries above this line" line/,
      );
      expect(existsSync(join(repo, "plugins", "no-marker"))).toBe(false);
      expect(read(REGISTRY_FILES.matrix)).not.toContain("no-marker");
    } finally {
      writeFileSync(cli, saved);
    }
  });

  it("--no-register and folders outside the workspaces leave the lists alone", async () => {
    const before = Object.values(REGISTRY_FILES).map(read);
    const { value } = await quietly(() =>
      newPluginCommand("unlisted", { cwd: repo, register: false }),
    );
    expect(value.registered).toEqual([]);
    await quietly(() => newPluginCommand("elsewhere", { cwd: repo, dir: "vendor/x" }));
    expect(Object.values(REGISTRY_FILES).map(read)).toEqual(before);
  });

  it("names the standalone tools at the versions this repository builds with", () => {
    const root = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
    const conformance = JSON.parse(
      readFileSync(join(REPO, "packages/conformance/package.json"), "utf8"),
    );
    const used = { ...root.devDependencies, ...conformance.dependencies };
    for (const [name, range] of Object.entries(STANDALONE_TOOL_VERSIONS)) {
      expect(used[name], name).toBe(range);
    }
  });
});

describe.skipIf(!conformanceBuilt)(
  "the generated plugin (needs @mdevkit/conformance built)",
  () => {
    it("typechecks (sources and tests) and compiles against the built @mdevkit/core", async () => {
      const opts = { cwd: pluginDir, env: childEnv() };
      await run(process.execPath, [TSC, "-p", "tsconfig.json", "--noEmit"], opts);
      await run(process.execPath, [TSC, "-p", "tsconfig.build.json"], opts);
      for (const f of ["index.js", "index.d.ts", "conformance-options.js"]) {
        expect(existsSync(join(pluginDir, "dist", f)), f).toBe(true);
      }
    }, 120_000);

    it("its device works in a VM config's run, and a migration carries what it did", async () => {
      // Built by the test above (tsc -p tsconfig.build.json).
      const entry = join(pluginDir, "dist", "index.js");
      expect(existsSync(entry), "the previous test builds it").toBe(true);
      const plugin = ((await import(pathToFileURL(entry).href)) as { default: VendorPlugin })
        .default;
      interface Described {
        readonly counter: number;
        readonly ringBase: number;
        readonly ringEntries: number;
        readonly ringHead: number;
      }
      const describeDevice = (vm: SimulatedVm): Described =>
        plugin.describeState?.(vm.devices[0]!.driver) as unknown as Described;
      const config = parseVmConfig({
        name: "scaffolded",
        memoryMiB: 4,
        devices: [{ slot: "00:05.0", plugin: "demo-dev", deviceType: "demo-dev-1" }],
        deviceTickMs: 2,
      });
      const source = await SimulatedVm.create(
        config,
        createHost({ name: "src", plugins: [plugin] }),
        {
          role: "source",
        },
      );
      let target: SimulatedVm | undefined;
      try {
        await source.start();
        // Only the device's own ticks act here (no vCPU workload): its work is all there is.
        await vi.waitFor(() => expect(describeDevice(source).counter).toBeGreaterThan(3), {
          timeout: 30_000,
          interval: 20,
        });
        const channel = createMemoryChannelPair();
        let arrived: Described | undefined;
        const received = new MigrationTarget(
          createHost({ name: "dst", plugins: [plugin] }),
          channel.target,
          {
            verifyRam: true,
            beforeRun: (vm) => {
              arrived = describeDevice(vm);
            },
          },
        ).receive();
        received.catch(() => {});
        const result = await new MigrationSource(source, channel.source, {
          verifyRam: true,
        }).migrate();
        const landed = await received;
        target = landed.vm;
        expect(result.outcome).toBe("completed");
        expect(landed.ramSha256).toBe(result.ramSha256);
        // The source device stopped for good at switchover: its last state is what must arrive.
        const last = describeDevice(source);
        expect(arrived).toEqual(last);
        expect(last.counter).toBeGreaterThan(3);
        // The last record it DMA'd (sequence counter - 1) is in the target's guest RAM.
        const slot = (last.ringHead + last.ringEntries - 1) % last.ringEntries;
        const record = target.memory.read(last.ringBase + slot * 16, 16);
        expect(new DataView(record.buffer, record.byteOffset).getUint32(0, true)).toBe(
          last.counter - 1,
        );
      } finally {
        await source.destroy();
        await target?.destroy();
      }
    }, 120_000);

    it("passes its own tests: the conformance suite and the device tests", async () => {
      await run(process.execPath, [VITEST, "run"], { cwd: pluginDir, env: childEnv() }).catch(
        (e: { stdout?: string; stderr?: string }) => {
          throw new Error(`generated plugin's tests failed:\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
        },
      );
      const report = JSON.parse(
        readFileSync(join(pluginDir, ".vitest-report.json"), "utf8"),
      ) as VitestReport;
      expect(report.numFailedTests).toBe(0);
      expect(report.numPassedTests).toBeGreaterThanOrEqual(30);
      const files = report.testResults.map((r) => r.name.replace(/.*\//, ""));
      expect(files.sort()).toEqual(["conformance.test.ts", "device.test.ts"]);
    }, 180_000);
  },
);
