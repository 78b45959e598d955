// Issue #14 item 7 on files: a save whose DEVICE_CONFIG records were removed, duplicated,
// relabelled to another slot or edited — every sequence number and CRC recomputed, so
// each frame is well-formed — is refused by `restore` and by `inspect`, in one line naming
// the rule. Before, all four restored without complaint.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { frameRecord, HEADER_LENGTH, RecordType } from "@mdevkit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MDEVKIT_BIN } from "../src/child.js";

const dir = mkdtempSync(join(tmpdir(), "mdevkit-config-save-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mdevkit(args: readonly string[]) {
  return spawnSync(process.execPath, [MDEVKIT_BIN, ...args], {
    encoding: "utf8",
    timeout: 120_000,
  });
}

interface RawRecord {
  readonly type: number;
  readonly payload: Uint8Array;
}

let header: Uint8Array;
let records: RawRecord[];

/** A saved two-device VM (slots 0 and 1), taken apart into header and records. */
beforeAll(() => {
  const config = join(dir, "vm.json");
  writeFileSync(
    config,
    JSON.stringify({
      name: "two-ttys",
      memoryMiB: 8,
      vcpus: 1,
      workloads: [{ pattern: "uniform", pagesPerSecond: 1000 }],
      devices: [
        { slot: "00:05.0", plugin: "mtty", deviceType: "mtty-2" },
        { slot: "00:06.0", plugin: "mtty", deviceType: "mtty-1" },
      ],
    }),
  );
  const file = join(dir, "good.save");
  const saved = mdevkit(["save", file, "--config", config, "--warmup", "50"]);
  expect(saved.status, saved.stderr).toBe(0);
  const bytes = new Uint8Array(readFileSync(file));
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  header = bytes.slice(0, HEADER_LENGTH);
  records = [];
  for (let at = HEADER_LENGTH; at < bytes.byteLength; ) {
    const length = v.getUint32(at + 8, true);
    records.push({ type: v.getUint16(at, true), payload: bytes.slice(at + 12, at + 12 + length) });
    at += 12 + length + 4;
  }
}, 120_000);

/** Writes `edit(records)` as a save with fresh sequence numbers and CRCs; returns its path. */
function variant(name: string, edit: (r: RawRecord[]) => RawRecord[]): string {
  const path = join(dir, `${name}.save`);
  const edited = edit([...records]);
  writeFileSync(
    path,
    Buffer.concat([header, ...edited.map((r, seq) => frameRecord(r.type, seq, r.payload))]),
  );
  return path;
}

/** Index of the DEVICE_CONFIG record of `slot`. */
function configOf(r: readonly RawRecord[], slot: number): number {
  const i = r.findIndex(
    (rec) =>
      rec.type === RecordType.DEVICE_CONFIG &&
      new DataView(rec.payload.buffer, rec.payload.byteOffset).getUint16(0, true) === slot,
  );
  expect(i).toBeGreaterThan(0);
  return i;
}

function withSlot(rec: RawRecord, slot: number): RawRecord {
  const payload = rec.payload.slice();
  new DataView(payload.buffer).setUint16(0, slot, true);
  return { type: rec.type, payload };
}

const VARIANTS: { name: string; rule: string; edit: (r: RawRecord[]) => RawRecord[] }[] = [
  {
    name: "removed",
    rule: "config-missing",
    edit: (r) => r.filter((_, i) => i !== configOf(r, 1)),
  },
  {
    name: "duplicated",
    rule: "duplicate-config",
    edit: (r) => {
      const i = configOf(r, 0);
      return [...r.slice(0, i + 1), r[i] as RawRecord, ...r.slice(i + 1)];
    },
  },
  {
    name: "relabelled",
    rule: "duplicate-config",
    edit: (r) => r.map((rec, i) => (i === configOf(r, 0) ? withSlot(rec, 1) : rec)),
  },
  {
    name: "edited",
    rule: "device-digest",
    edit: (r) => {
      const i = configOf(r, 1);
      const payload = (r[i] as RawRecord).payload.slice();
      payload[4 + 0x3c] = (payload[4 + 0x3c] ?? 0) ^ 0x0f; // interrupt line, say
      return r.map((rec, j) => (j === i ? { type: rec.type, payload } : rec));
    },
  },
];

describe("a save with its device config tampered (CRCs recomputed)", { timeout: 120_000 }, () => {
  it("the untouched save passes inspect and restore", () => {
    const path = variant("untouched", (r) => r);
    const inspect = mdevkit(["inspect", path]);
    expect(inspect.status, inspect.stderr).toBe(0);
    const restore = mdevkit(["restore", path, "--run-for", "10"]);
    expect(restore.status, restore.stderr).toBe(0);
  });

  it.each(VARIANTS)(
    "$name: inspect and restore refuse it in one line naming $rule",
    ({ name, rule, edit }) => {
      const path = variant(name, edit);
      for (const command of ["inspect", "restore"]) {
        const run = mdevkit([command, path]);
        expect(run.status, `${command}: ${run.stdout}${run.stderr}`).toBe(1);
        const lines = run.stderr.trim().split("\n");
        expect(lines, `${command}: ${run.stderr}`).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^mdevkit: E[A-Z]+: .*breaks rule "${rule}"`));
      }
    },
  );
});
