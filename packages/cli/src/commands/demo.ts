import { mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatBytes, MdevError, type MigrationResult } from "@mdevkit/core";
import cliProgress from "cli-progress";
import { MdevkitChild } from "../child.js";
import type { ChildEvent } from "../events.js";
import { machineDescription } from "../machine.js";
import { renderHtmlReport } from "../report/html-report.js";
import { migrationSummary } from "../summary.js";

/** Options of `mdevkit demo`. */
export interface DemoOptions {
  readonly transport: "tcp" | "unix";
  readonly memory: number;
  readonly json: boolean;
  readonly report?: string;
  readonly migrateArgs: readonly string[];
}

/**
 * `mdevkit demo`: the whole story on one machine. Starts a target process (`listen`) and a
 * source process (`migrate`) on loopback, live-migrates the default VM between them, shows
 * progress, and prints a summary — checking that guest RAM (SHA-256 of all of it) and every
 * device's state arrived unchanged.
 */
export async function demoCommand(options: DemoOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "mdevkit-demo-"));
  const on =
    options.transport === "unix" ? `unix://${join(dir, "migrate.sock")}` : "tcp://127.0.0.1:0";
  // The target preallocates the VM's RAM before it reports listening, as a QEMU target
  // started with -incoming -mem-prealloc does, so no incoming page pays a first-touch fault.
  const target = new MdevkitChild([
    "listen",
    "--on",
    on,
    "--once",
    "--verify-ram",
    "--prealloc",
    String(options.memory),
  ]);
  let source: MdevkitChild | undefined;
  try {
    const { url } = await target.waitFor("listening", 30_000);
    source = new MdevkitChild([
      "migrate",
      "--to",
      url,
      "--memory",
      String(options.memory),
      "--verify-ram",
      ...options.migrateArgs,
    ]);
    const stop = options.json ? () => {} : followProgress(source, options.memory * 2 ** 20);
    const srcEvent = await source.result(600_000);
    const dstEvent = await target.waitFor("result", 60_000);
    stop();
    const result = srcEvent.result as unknown as MigrationResult & {
      devices: Record<string, unknown>;
    };
    const t = dstEvent.result as {
      ramSha256?: string;
      ramDigest: string;
      devices: Record<string, unknown>;
    };
    const ramIdentical = result.ramSha256 !== undefined && result.ramSha256 === t.ramSha256;
    const devicesIdentical = JSON.stringify(result.devices) === JSON.stringify(t.devices);
    const verdict = {
      ramIdentical,
      devicesIdentical,
      transport: options.transport,
      machine: machineDescription(),
    };
    if (options.json)
      process.stdout.write(
        `${JSON.stringify({ ...result, verification: verdict, targetDevices: t.devices }, null, 2)}\n`,
      );
    else {
      process.stdout.write(
        `${migrationSummary(result, [
          ["transport", `${options.transport} loopback, two processes`],
          [
            "guest RAM check",
            ramIdentical
              ? "identical (SHA-256 of all RAM, source at pause vs target at resume)"
              : "MISMATCH",
          ],
          [
            "device state check",
            devicesIdentical ? `identical (${Object.keys(t.devices).join(", ")})` : "MISMATCH",
          ],
          ["machine", verdict.machine],
        ])}\n`,
      );
    }
    if (options.report) {
      await writeFile(
        options.report,
        renderHtmlReport(result, {
          vmName: "demo-vm",
          destination: `${options.transport} loopback`,
          machine: verdict.machine,
          date: new Date().toISOString(),
        }),
      );
      if (!options.json) process.stdout.write(`report written to ${options.report}\n`);
    }
    if (!ramIdentical || !devicesIdentical)
      throw new MdevError("EIO", "verification failed: the target's VM differs from the source's");
    await Promise.all([source.exited, target.exited]);
  } finally {
    source?.kill();
    target.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

function followProgress(source: MdevkitChild, ramBytes: number): () => void {
  if (!process.stderr.isTTY) {
    source.on((e: ChildEvent) => {
      if (e.event === "phase") process.stderr.write(`phase: ${e.phase}\n`);
      if (e.event === "iteration") {
        const s = e.stats as {
          iteration: number;
          dataPages: number;
          zeroPages: number;
          wireBytes: number;
          bandwidth: number;
        };
        process.stderr.write(
          `iteration ${s.iteration}: ${s.dataPages} data + ${s.zeroPages} zero pages, ${formatBytes(s.wireBytes)} at ${formatBytes(s.bandwidth)}/s\n`,
        );
      }
    });
    return () => {};
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: " {phase} | iteration {iteration} | {sent} | {rate} | {bar}",
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(ramBytes, 0, { phase: "handshake", iteration: 0, sent: "0 B", rate: "-" });
  source.on((e: ChildEvent) => {
    if (e.event === "progress") {
      const rate = e.tMs > 0 ? `${formatBytes((e.wireBytes / e.tMs) * 1000)}/s` : "-";
      bar.update(Math.min(ramBytes, e.wireBytes), {
        phase: e.phase,
        iteration: e.iteration,
        sent: formatBytes(e.wireBytes),
        rate,
      });
    }
  });
  return () => bar.stop();
}
