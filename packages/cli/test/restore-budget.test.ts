// `restore --max-memory`: a save file edited to claim 2 GiB fails before its RAM is
// allocated, in one `mdevkit: ENOMEM: …` line.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type HandshakeBody, StreamDecoder, StreamEncoder } from "@mdevkit/core";
import { afterAll, describe, expect, it } from "vitest";
import { MDEVKIT_BIN } from "../src/child.js";

const MAX_RSS = fileURLToPath(new URL("./fixtures/max-rss.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "mdevkit-restore-budget-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: readonly string[]): Promise<Run> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
  });
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

/** The save with its HANDSHAKE re-encoded to claim `memoryMiB` (header digest and CRCs fixed). */
function claiming(save: Buffer, memoryMiB: number): Buffer {
  const decoder = new StreamDecoder();
  const records: { type: string; offset: number }[] = [];
  for (const record of decoder.push(save)) {
    records.push(record);
    if (record.type === "HANDSHAKE") {
      const { memoryMiB: original } = JSON.parse(new TextDecoder().decode(record.config));
      decoder.setGuestPageCount((original * 2 ** 20) / 4096);
    }
    if (records.length === 2) break;
  }
  const handshake = records[0] as HandshakeBody & { offset: number };
  const next = records[1] as { offset: number };
  const config = JSON.parse(new TextDecoder().decode(handshake.config)) as Record<string, unknown>;
  const edited = new StreamEncoder().start({
    config: new TextEncoder().encode(JSON.stringify({ ...config, memoryMiB })),
    devices: handshake.devices,
  });
  return Buffer.concat([...edited, save.subarray(next.offset)]);
}

describe("restore --max-memory", { timeout: 180_000 }, () => {
  it("a save edited to claim 2 GiB fails before allocating, naming the budget", async () => {
    const file = join(dir, "vm.save");
    const saved = await run(MDEVKIT_BIN, ["save", file, "--memory", "16", "--warmup", "0"]);
    expect(saved.code, saved.stderr).toBe(0);
    const big = join(dir, "big.save");
    writeFileSync(big, claiming(readFileSync(file), 2048));

    const restored = await run(MAX_RSS, ["restore", big, "--max-memory", "1024", "--run-for", "0"]);
    expect(restored.code).toBe(1);
    const lines = restored.stderr.split("\n").filter((l) => l !== "");
    expect(lines[0]).toMatch(
      /^mdevkit: ENOMEM: refused the VM: the VM has 2048 MiB of RAM; this target's memory budget is 1024 MiB$/,
    );
    const maxRssKiB = Number(/max-rss-kib (\d+)/.exec(restored.stderr)?.[1]);
    // Allocating and prefaulting the claimed guest would put the peak past 2 GiB.
    expect(maxRssKiB).toBeGreaterThan(0);
    expect(maxRssKiB / 1024).toBeLessThan(400);
  });

  it("control: a claim within the budget is allocated (and then fails), which the peak RSS shows", async () => {
    const file = join(dir, "vm2.save");
    const saved = await run(MDEVKIT_BIN, ["save", file, "--memory", "16", "--warmup", "0"]);
    expect(saved.code, saved.stderr).toBe(0);
    const edited = join(dir, "edited.save");
    writeFileSync(edited, claiming(readFileSync(file), 512));
    const restored = await run(MAX_RSS, [
      "restore",
      edited,
      "--max-memory",
      "1024",
      "--run-for",
      "0",
    ]);
    expect(restored.code).toBe(1);
    expect(restored.stderr).not.toMatch(/ENOMEM/);
    const maxRssKiB = Number(/max-rss-kib (\d+)/.exec(restored.stderr)?.[1]);
    expect(maxRssKiB / 1024).toBeGreaterThan(512);
  });

  it("the unedited save restores within the same budget", async () => {
    const file = join(dir, "small.save");
    const saved = await run(MDEVKIT_BIN, ["save", file, "--memory", "16", "--warmup", "0"]);
    expect(saved.code, saved.stderr).toBe(0);
    const restored = await run(MDEVKIT_BIN, [
      "restore",
      file,
      "--max-memory",
      "16",
      "--run-for",
      "0",
    ]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/^Restored /);
  });
});

describe("restore --max-device-state", { timeout: 180_000 }, () => {
  it("a save whose devices hold more state fails in one ENOMEM line; within it, it restores", async () => {
    const config = join(dir, "vgpu.json");
    // A GVTg_V5_4 vGPU's state carries its whole GGTT: 1.25 MiB.
    writeFileSync(
      config,
      JSON.stringify({
        name: "vgpu",
        memoryMiB: 64,
        vcpus: 1,
        devices: [
          {
            slot: "00:02.0",
            plugin: "gvt-g",
            deviceType: "GVTg_V5_4",
            options: { profile: "heavy" },
          },
        ],
      }),
    );
    const file = join(dir, "vgpu.save");
    const saved = await run(MDEVKIT_BIN, ["save", file, "--config", config, "--warmup", "0"]);
    expect(saved.code, saved.stderr).toBe(0);

    const refused = await run(MDEVKIT_BIN, [
      "restore",
      file,
      "--max-device-state",
      "1",
      "--run-for",
      "0",
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.split("\n")[0]).toMatch(
      /^mdevkit: ENOMEM: the VM's devices sent more than the 1 MiB of device state this target takes from one VM$/,
    );
    const restored = await run(MDEVKIT_BIN, [
      "restore",
      file,
      "--max-device-state",
      "2",
      "--run-for",
      "0",
    ]);
    expect(restored.code, restored.stderr).toBe(0);
  });
});
