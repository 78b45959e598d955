// `migrate --format-version` and `save --format-version`: a source writes an older stream
// format for a target (or a restore) of an older mdevkit. This build reads versions 2–4;
// each must arrive whole, its END digest in that version's form (a wrong form fails the
// RAM check).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { migrateConfig } from "../helpers/migrate.js";
import { cleanup, runCli, tempDir } from "../helpers/processes.js";
import { smallVmConfig } from "../helpers/vm-configs.js";

afterEach(cleanup);

describe("migrate --format-version", () => {
  it.each(["2", "3", "4"])("writes version %s, and the VM arrives identical", async (version) => {
    await migrateConfig(smallVmConfig(), { source: ["--format-version", version] });
  });
});

describe("save --format-version", () => {
  it("writes version 3, which restore reads and runs with its digests checked", async () => {
    const file = join(tempDir(), "v3.mdevkit");
    const save = await runCli(["save", file, "--memory", "64", "--format-version", "3", "--json"]);
    expect(save.code, save.stderr).toBe(0);
    expect(readFileSync(file).readUInt16LE(8)).toBe(3);
    const restore = await runCli(["restore", file, "--verify-ram", "--json", "--run-for", "100"]);
    expect(restore.code, restore.stderr).toBe(0);
    expect(JSON.parse(restore.stdout).ramDigest).toBe(JSON.parse(save.stdout).ramDigest);
  });
});
