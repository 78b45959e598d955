// `mdevkit new-plugin NAME --out DIR`: a plugin package outside the repository, built and
// tested against @mdevkit/core and @mdevkit/conformance as `npm pack` makes them, the way
// a vendor gets them from a registry. Everything happens in a scratch folder under the
// OS temp directory; nothing resolves back into this repository.
import { execFile } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { isMdevError } from "@mdevkit/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { newPluginCommand } from "../src/commands/new-plugin.js";
import { cleanupListeners, startListener } from "./listen-helpers.js";

const run = promisify(execFile);
const REPO = realpathSync(fileURLToPath(new URL("../../../", import.meta.url)));
const BIN = fileURLToPath(new URL("../bin/mdevkit.js", import.meta.url));

/** Packing needs both packages built (turbo builds them before this package's tests). */
const built =
  existsSync(join(REPO, "packages/core/dist/index.js")) &&
  existsSync(join(REPO, "packages/conformance/dist/vitest-preset.js")) &&
  existsSync(join(REPO, "packages/cli/dist/index.js"));

/**
 * Environment for npm and the plugin's own tools: no vitest worker variables, and no
 * `npm_*` variables from an enclosing `npm test` (they would point npm at this repository).
 */
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        !k.startsWith("VITEST") && !k.toLowerCase().startsWith("npm_") && k !== "NODE_OPTIONS",
    ),
  );
}

async function sh(cmd: string, args: readonly string[], cwd: string, timeout = 300_000) {
  return run(cmd, args, { cwd, env: childEnv(), timeout, maxBuffer: 64 << 20 }).catch(
    (e: { stdout?: string; stderr?: string; message?: string }) => {
      throw new Error(
        `${cmd} ${args.join(" ")} failed in ${cwd}: ${e.message ?? ""}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`,
      );
    },
  );
}

/** What `npm pack --json` reports per package. */
interface PackReport {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

async function pack(pkgDir: string, into: string): Promise<PackReport> {
  const { stdout } = await sh("npm", ["pack", "--json", "--pack-destination", into], pkgDir);
  const [report] = JSON.parse(stdout) as PackReport[];
  if (report === undefined) throw new Error(`npm pack in ${pkgDir} reported nothing`);
  return report;
}

async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const spy = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  try {
    return await fn();
  } finally {
    spy.mockRestore();
  }
}

async function refusal(promise: Promise<unknown>): Promise<Error & { code: string }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isMdevError(err), `expected an MdevError, got ${String(err)}`).toBe(true);
  return err as Error & { code: string };
}

let scratch: string;
let core: PackReport;
let conformance: PackReport;

beforeAll(async () => {
  scratch = realpathSync(mkdtempSync(join(tmpdir(), "mdevkit-standalone-")));
  if (!built) return;
  core = await pack(join(REPO, "packages/core"), scratch);
  conformance = await pack(join(REPO, "packages/conformance"), scratch);
}, 120_000);

afterAll(async () => {
  await cleanupListeners();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("standalone options", () => {
  it("refuses tarball options without --out, and --out with --dir", async () => {
    for (const o of [{ coreTarball: "x.tgz" }, { fromPacks: "." }, { fromRegistry: true }]) {
      const e = await refusal(newPluginCommand("lone-dev", { cwd: scratch, ...o }));
      expect(e.code).toBe("EINVAL");
      expect(e.message).toMatch(/only apply with --out/);
    }
    const both = await refusal(newPluginCommand("lone-dev", { cwd: scratch, out: "a", dir: "b" }));
    expect(both.message).toMatch(/--dir and --out exclude each other/);
  });

  it("refuses a missing tarball, a folder without packs and a non-empty --out", async () => {
    const missing = await refusal(
      newPluginCommand("lone-dev", { cwd: scratch, out: "m", coreTarball: "nope.tgz" }),
    );
    expect([missing.code, missing.message]).toEqual([
      "ENOENT",
      expect.stringMatching(/nope\.tgz is not a file/),
    ]);
    mkdirSync(join(scratch, "empty-packs"));
    const none = await refusal(
      newPluginCommand("lone-dev", { cwd: scratch, out: "m", fromPacks: "empty-packs" }),
    );
    expect(none.message).toMatch(/holds 0 mdevkit-core-\*\.tgz files, expected one/);
    mkdirSync(join(scratch, "taken"));
    writeFileSync(join(scratch, "taken", "keep.txt"), "mine");
    const taken = await refusal(
      newPluginCommand("lone-dev", { cwd: scratch, out: "taken", fromRegistry: true }),
    );
    expect(taken.code).toBe("EEXIST");
    expect(readFileSync(join(scratch, "taken", "keep.txt"), "utf8")).toBe("mine");
    expect(existsSync(join(scratch, "m"))).toBe(false);
  });

  it("refuses --out without both tarballs, saying the packages are not on the npm registry and how to pack them", async () => {
    mkdirSync(join(scratch, "packs-one"));
    writeFileSync(join(scratch, "packs-one", "mdevkit-core-0.1.0.tgz"), "");
    const cases: [object, RegExp][] = [
      [{}, /got no @mdevkit\/core or @mdevkit\/conformance tarball/],
      [{ coreTarball: "packs-one/mdevkit-core-0.1.0.tgz" }, /got no @mdevkit\/conformance/],
      [{ conformanceTarball: "packs-one/mdevkit-core-0.1.0.tgz" }, /got no @mdevkit\/core /],
    ];
    for (const [o, missing] of cases) {
      const e = await refusal(newPluginCommand("lone-dev", { cwd: scratch, out: "none", ...o }));
      expect([e.code, e.message], JSON.stringify(o)).toEqual([
        "EINVAL",
        expect.stringMatching(missing),
      ]);
      expect(e.message).toMatch(/not published on the npm registry/);
      expect(e.message).toContain("npm pack -w @mdevkit/core -w @mdevkit/conformance");
      expect(e.message).toMatch(/--from-packs .*--from-registry/);
    }
    // A folder with only one of the two is refused the same way (by findPack).
    const half = await refusal(
      newPluginCommand("lone-dev", { cwd: scratch, out: "none", fromPacks: "packs-one" }),
    );
    expect(half.message).toMatch(/holds 0 mdevkit-conformance-\*\.tgz files/);
    const mixed = await refusal(
      newPluginCommand("lone-dev", {
        cwd: scratch,
        out: "none",
        fromPacks: "packs-one",
        fromRegistry: true,
      }),
    );
    expect(mixed.message).toMatch(/--from-registry and the tarball options .* exclude each other/);
    expect(existsSync(join(scratch, "none"))).toBe(false);
  });

  it("with --from-registry, depends on the kit's registry versions and names no repository path", async () => {
    const result = await quietly(() =>
      newPluginCommand("reg-dev", { cwd: scratch, out: "reg-dev", fromRegistry: true }),
    );
    expect(result.standalone).toBe(true);
    const pkg = JSON.parse(readFileSync(join(result.dir, "package.json"), "utf8"));
    expect(pkg.devDependencies["@mdevkit/core"]).toMatch(/^\^\d+\.\d+\.\d+$/);
    expect(pkg.devDependencies["@mdevkit/conformance"]).toMatch(/^\^\d+\.\d+\.\d+$/);
    for (const f of result.files) {
      const text = readFileSync(join(result.dir, f), "utf8");
      expect(text, f).not.toContain("../../");
      expect(text, f).not.toContain(REPO);
    }
    expect(result.files).toContain(".gitignore");
    // Its README starts with the standalone steps and points at the docs where they are.
    const readme = readFileSync(join(result.dir, "README.md"), "utf8");
    expect(readme).not.toMatch(/Inside the mdevkit repository|turbo|next to it\./);
    expect(readme.indexOf("npm install && npm run build && npm test")).toBeGreaterThan(0);
    expect(readme).toMatch(/`docs\/writing-a-plugin\.md` in the mdevkit repository/);
    expect(readme).toContain("npm pack -w @mdevkit/core -w @mdevkit/conformance");
    expect(readme).toMatch(/--plugin \/path\/to\/this\/package/);
  });
});

describe.skipIf(!built)("a standalone plugin built from npm-packed tarballs", () => {
  it("packs core and conformance with their builds, presets and types, and no tests", () => {
    const coreFiles = core.files.map((f) => f.path);
    expect(coreFiles).toEqual(
      expect.arrayContaining(["package.json", "dist/index.js", "dist/index.d.ts"]),
    );
    const confFiles = conformance.files.map((f) => f.path);
    expect(confFiles).toEqual(
      expect.arrayContaining([
        "dist/index.js",
        "dist/index.d.ts",
        "dist/vitest-preset.js",
        "dist/vitest-preset.d.ts",
        "dist/vitest-setup.js",
        "tsconfig.base.json",
        "README.md",
      ]),
    );
    for (const f of [...coreFiles, ...confFiles]) expect(f).not.toMatch(/^test\//);
  });

  it("installs, builds and passes its own tests, conformance suite included", async () => {
    expect(scratch.startsWith(REPO)).toBe(false);
    const created = await sh(
      process.execPath,
      [BIN, "new-plugin", "acme-dev", "--out", "acme-dev", "--from-packs", "."],
      scratch,
    );
    expect(created.stdout).toContain("created acme-dev: @mdevkit/plugin-acme-dev");
    const dir = join(scratch, "acme-dev");
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    expect(pkg.devDependencies["@mdevkit/core"]).toBe(`file:../${core.filename}`);
    expect(pkg.devDependencies["@mdevkit/conformance"]).toBe(`file:../${conformance.filename}`);

    await sh("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], dir, 600_000);
    // Installed from the tarballs into the package, not linked back into the repository.
    for (const name of ["core", "conformance"]) {
      const at = join(dir, "node_modules/@mdevkit", name);
      expect(lstatSync(at).isSymbolicLink(), name).toBe(false);
      expect(realpathSync(at).startsWith(dir), name).toBe(true);
    }
    // Core's C page routines are built from the tarball's sources at install, as a vendor gets them.
    expect(
      existsSync(join(dir, "node_modules/@mdevkit/core/build/Release/page_routines.node")),
    ).toBe(true);
    await sh("npm", ["run", "build"], dir);
    expect(existsSync(join(dir, "dist/index.js"))).toBe(true);
    await sh("npm", ["run", "typecheck"], dir);
    await sh(
      "npm",
      ["test", "--", "--reporter=json", "--outputFile=vitest-report.json"],
      dir,
      600_000,
    );
    const report = JSON.parse(readFileSync(join(dir, "vitest-report.json"), "utf8")) as {
      numFailedTests: number;
      numPassedTests: number;
      testResults: { name: string }[];
    };
    expect(report.numFailedTests).toBe(0);
    expect(report.numPassedTests).toBeGreaterThanOrEqual(30);
    expect(report.testResults.map((r) => r.name.replace(/.*\//, "")).sort()).toEqual([
      "conformance.test.ts",
      "device.test.ts",
    ]);
  }, 900_000);

  it("live-migrates a VM with the built plugin between two mdevkit processes, loaded by directory and by name", async () => {
    const dir = join(scratch, "acme-dev");
    expect(existsSync(join(dir, "dist/index.js")), "the previous test builds it").toBe(true);
    const config = join(scratch, "acme-vm.json");
    writeFileSync(
      config,
      JSON.stringify({
        name: "acme-vm",
        memoryMiB: 64,
        vcpus: 1,
        initialFill: 0.25,
        workloads: [{ pattern: "uniform", pagesPerSecond: 2000 }],
        devices: [{ slot: "00:05.0", plugin: "acme-dev", deviceType: "acme-dev-1" }],
        seed: 3,
      }),
    );
    // The target loads the package directory; the source, run from inside the package,
    // loads it by its name. Both get the plugin's own @mdevkit/core (from the tarball):
    // its errors must read as the engine's, or precopy fails on its first ENOMSG.
    const target = await startListener(["--once", "--plugin", dir]);
    const source = await sh(
      process.execPath,
      [BIN, "migrate", "--to", target.url, "--config", config, "--warmup", "200"].concat([
        "--plugin",
        "@mdevkit/plugin-acme-dev",
        "--json",
      ]),
      dir,
    );
    const result = JSON.parse(source.stdout) as { outcome?: string; iterations?: unknown[] };
    expect(result.outcome, source.stdout).toBe("completed");
    expect(source.stderr).toMatch(
      /^mdevkit: warning: plugin module @mdevkit\/plugin-acme-dev loads its own @mdevkit\/core/m,
    );
    expect(await target.child.exited).toBe(0);
  }, 300_000);
});
