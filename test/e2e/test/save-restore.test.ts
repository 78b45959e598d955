// Issue #5, "Must show": `mdevkit save` writes a VM to a file that `inspect` decodes record
// by record and `restore` brings back to life; a file damaged in the middle is refused by
// both with one line naming the record, its offset and the rule it breaks.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, cleanup, runCli, tempDir } from "../helpers/processes.js";

// The tests share one saved file, so the temp dirs go after the last test, not each.
afterAll(cleanup);

interface SaveJson {
  bytes: number;
  dataPages: number;
  zeroPages: number;
  ramDigest: string;
  pausedMs: number;
}

interface InspectRecord {
  seq: number;
  offset: number;
  type: string;
  [key: string]: unknown;
}

/** Parses a run's stdout as JSON, failing with what the command printed. */
function json<T>(run: CliRun): T {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as T;
}

/** The one line a failed command printed on stderr. */
function oneLine(run: CliRun): string {
  const lines = run.stderr.split("\n").filter((l) => l !== "");
  expect(lines, run.stderr).toHaveLength(1);
  return lines[0] ?? "";
}

const MIB = 64;
let dir = "";
let file = "";
let saved: SaveJson;

beforeAll(async () => {
  dir = tempDir();
  file = join(dir, "vm.mdevkit");
  saved = json<SaveJson>(
    await runCli(["save", file, "--memory", String(MIB), "--warmup", "100", "--json"]),
  );
});

describe("save, inspect, restore", () => {
  it("save writes the whole VM: every page once, as data or a zero marker", () => {
    expect(saved.dataPages + saved.zeroPages).toBe((MIB * 2 ** 20) / 4096);
    expect(saved.dataPages).toBeGreaterThan(0);
    expect(saved.zeroPages).toBeGreaterThan(0);
    expect(saved.bytes).toBe(readFileSync(file).byteLength);
    expect(saved.ramDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(saved.pausedMs).toBeGreaterThan(0);
  });

  it("inspect --json decodes every record, in order, ending with END and a summary", async () => {
    const run = await runCli(["inspect", file, "--json", "--ram-records", "1000"]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split("\n");
    const summary = JSON.parse(lines.pop() ?? "") as { summary: string };
    expect(summary.summary).toMatch(
      new RegExp(`^${saved.bytes} bytes .* every record and digest checked$`),
    );
    const records = lines.map((l) => JSON.parse(l) as InspectRecord);

    expect(records[0]?.type).toBe("HANDSHAKE");
    expect(records[0]).toMatchObject({ devices: ["0:mtty@0.1.0/mtty-2"] });
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i));
    for (let i = 1; i < records.length; i++) {
      expect(records[i]?.offset).toBeGreaterThan(records[i - 1]?.offset ?? 0);
    }
    const types = new Set(records.map((r) => r.type));
    for (const t of ["RAM_PAGES", "DEVICE_CONFIG", "DEVICE_DATA", "END"])
      expect(types).toContain(t);

    const end = records.at(-1) as InspectRecord & {
      dataPages: number;
      zeroPages: number;
      ramDigest: string;
    };
    expect(end.type).toBe("END");
    expect(end.ramDigest).toBe(saved.ramDigest);
    expect(end.dataPages).toBe(saved.dataPages);
    expect(end.zeroPages).toBe(saved.zeroPages);
    // The RAM records cover all of guest RAM, and their data pages add up to END's count.
    const ram = records.filter((r) => r.type === "RAM_PAGES") as (InspectRecord & {
      count: number;
      dataPages: number;
    })[];
    expect(ram.reduce((n, r) => n + r.count, 0)).toBe(saved.dataPages + saved.zeroPages);
    expect(ram.reduce((n, r) => n + r.dataPages, 0)).toBe(saved.dataPages);
  });

  it("restore --verify-ram rebuilds the VM, checks it and runs it", async () => {
    const restored = json<{
      vm: string;
      ramDigest: string;
      ramSha256: string;
      devices: Record<string, { portCount: number }>;
      deviceLoadMs: Record<string, number>;
      vcpuWritesAfterRun: number;
    }>(await runCli(["restore", file, "--verify-ram", "--json", "--run-for", "200"]));
    expect(restored.vm).toBe("demo-vm");
    expect(restored.ramDigest).toBe(saved.ramDigest);
    expect(restored.ramSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(restored.devices["00:05.0"]?.portCount).toBe(2);
    expect(Object.keys(restored.deviceLoadMs)).toEqual(["00:05.0"]);
    expect(restored.vcpuWritesAfterRun).toBeGreaterThan(0);

    // Restoring the same file again gives the same guest RAM, byte for byte.
    const again = json<{ ramSha256: string }>(
      await runCli(["restore", file, "--verify-ram", "--json", "--run-for", "1"]),
    );
    expect(again.ramSha256).toBe(restored.ramSha256);
  });

  it("a byte flipped in the middle: inspect and restore refuse with one line naming record, offset and rule", async () => {
    const bytes = readFileSync(file);
    const middle = bytes.length >> 1;
    bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
    const damaged = join(dir, "damaged.mdevkit");
    writeFileSync(damaged, bytes);

    const rule = /^mdevkit: E[A-Z]+: ([A-Z_]+) at offset (\d+) breaks rule "([a-z0-9-]+)": .+/;
    const inspect = await runCli(["inspect", damaged, "--json"]);
    expect(inspect.code).not.toBe(0);
    const inspectLine = oneLine(inspect);
    const m = rule.exec(inspectLine);
    expect(m, inspectLine).not.toBeNull();
    const [, record = "", offset = "", broken = ""] = m ?? [];
    // It names the record that holds the damaged byte: the last one starting at or before it.
    const good = await runCli(["inspect", file, "--json", "--ram-records", "1000"]);
    const holder = good.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Partial<InspectRecord>)
      .filter((r) => r.offset !== undefined && r.offset <= middle)
      .at(-1);
    expect(holder?.type).toBe("RAM_PAGES");
    expect(record).toBe(holder?.type);
    expect(Number(offset)).toBe(holder?.offset);
    expect(broken).not.toBe("");

    const restore = await runCli(["restore", damaged, "--json"]);
    expect(restore.code).not.toBe(0);
    expect(restore.stdout).toBe("");
    // The same record, offset and rule: restore applies the checks inspect does.
    expect(oneLine(restore)).toBe(inspectLine);
  });
});
