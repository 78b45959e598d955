// A save whose VM has a device of a plugin loaded only with --plugin, restored without it:
// `restore` says which device needs which plugin and how to load it. Before, it said
// ECONNREFUSED, as if a target had refused a connection.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MDEVKIT_BIN } from "../src/child.js";

const MTTY = fileURLToPath(new URL("../../../plugins/mtty/dist/index.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "mdevkit-missing-plugin-"));
const plugin = join(dir, "acme-tty.mjs");
const save = join(dir, "vm.save");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mdevkit(args: readonly string[]) {
  return spawnSync(process.execPath, [MDEVKIT_BIN, ...args], {
    encoding: "utf8",
    timeout: 120_000,
  });
}

/** A VM with one device of "acme-tty" (mtty under another name), saved with it loaded. */
beforeAll(() => {
  writeFileSync(
    plugin,
    `import { mttyPlugin } from ${JSON.stringify(MTTY)};
export default {
  ...mttyPlugin,
  name: "acme-tty",
  checkCompatible: (source) => mttyPlugin.checkCompatible({ ...source, plugin: "mtty" }),
};
`,
  );
  const config = join(dir, "vm.json");
  writeFileSync(
    config,
    JSON.stringify({
      name: "acme",
      memoryMiB: 8,
      vcpus: 1,
      devices: [{ slot: "00:05.0", plugin: "acme-tty", deviceType: "mtty-1" }],
    }),
  );
  const saved = mdevkit(["save", save, "--config", config, "--plugin", plugin, "--warmup", "20"]);
  expect(saved.status, saved.stderr).toBe(0);
}, 120_000);

describe("restore of a save that needs a plugin not loaded", () => {
  it("names the device, the plugin and --plugin, as ENODEV", () => {
    const run = mdevkit(["restore", save, "--run-for", "0"]);
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr).toBe(
      'mdevkit: ENODEV: the save\'s device 00:05.0 needs plugin "acme-tty", which is not loaded; load it with --plugin SPEC (its module file, package directory or package name)\n',
    );
  });

  it("restores once the plugin is loaded", () => {
    const run = mdevkit(["restore", save, "--run-for", "0", "--plugin", plugin, "--json"]);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ vm: "acme", devices: { "00:05.0": {} } });
  });
});
