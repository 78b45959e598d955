import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatBytes, MdevError, type MigrationResult, PAGE_SIZE } from "@mdevkit/core";
import { MdevkitChild } from "../child.js";
import { seedVmConfig } from "../default-vm.js";
import { machineDescription } from "../machine.js";
import { followChildProgress, type PhaseLog } from "../progress.js";
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

/** What happened before the migration started, ms (the demo shows it as phases of their own). */
export interface DemoSetup {
  /** The target preallocating and prefaulting guest RAM (`listen --prealloc`). */
  readonly targetPreallocMs: number;
  /** From starting the source process to its handshake: building the VM, filling RAM, warmup. */
  readonly sourceStartMs: number;
}

/**
 * `mdevkit demo`: the whole story on one machine. Starts a target process (`listen`) and a
 * source process (`migrate`) on loopback, live-migrates the seed's VM (a GVT-g vGPU, a NIC
 * VF and an accelerator VF; {@link seedVmConfig}) between them, shows progress, and prints
 * a summary — checking that guest RAM (SHA-256 of all of it) and every device's state
 * arrived unchanged.
 */
export async function demoCommand(options: DemoOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "mdevkit-demo-"));
  const on =
    options.transport === "unix" ? `unix://${join(dir, "migrate.sock")}` : "tcp://127.0.0.1:0";
  const config = join(dir, "vm.json");
  const vm = seedVmConfig(options.memory);
  const vcpus = vm.vcpus ?? 1;
  writeFileSync(config, JSON.stringify(vm));
  const log: PhaseLog = options.json ? () => {} : (line) => process.stderr.write(`${line}\n`);
  // The target preallocates the VM's RAM and starts its vCPU threads before it reports
  // listening, as a QEMU target started with -incoming -mem-prealloc does, so no incoming
  // page pays a first-touch fault and no thread starts up while RAM streams in.
  log(
    `target: preallocating ${formatBytes(options.memory * 2 ** 20)} of guest RAM, starting ${vcpus} vCPU threads`,
  );
  const target = new MdevkitChild([
    "listen",
    "--on",
    on,
    "--once",
    "--verify-ram",
    "--prealloc",
    String(options.memory),
    "--vcpu-threads",
    String(vcpus),
  ]);
  let source: MdevkitChild | undefined;
  try {
    const listening = await target.waitFor("listening", 120_000);
    const targetPreallocMs = listening.preallocMs ?? 0;
    log(
      `target: RAM ready in ${targetPreallocMs.toFixed(0)} ms, ${listening.vcpuThreads ?? 0} vCPU threads started, listening on ${listening.url}`,
    );
    log(
      `source: building ${vm.name} (${formatBytes(options.memory * 2 ** 20)}, ${vm.devices?.length ?? 0} devices: ${(vm.devices ?? []).map((d) => d.deviceType).join(", ")}) and letting it run`,
    );
    const sourceStarted = performance.now();
    source = new MdevkitChild([
      "migrate",
      "--to",
      listening.url,
      "--config",
      config,
      "--verify-ram",
      ...options.migrateArgs,
    ]);
    let sourceStartMs = Number.NaN;
    source.on((e) => {
      if (e.event === "phase" && e.phase === "handshake" && Number.isNaN(sourceStartMs))
        sourceStartMs = performance.now() - sourceStarted;
    });
    const stop = options.json
      ? () => {}
      : followChildProgress(source, (options.memory * 2 ** 20) / PAGE_SIZE, log);
    let srcEvent: Awaited<ReturnType<MdevkitChild["result"]>>;
    try {
      srcEvent = await source.result(600_000);
    } finally {
      stop();
    }
    const dstEvent = await target.waitFor("result", 60_000);
    const setup: DemoSetup = { targetPreallocMs, sourceStartMs };
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
    const setupRows: [string, string][] = [
      [
        "target RAM prealloc",
        `${setup.targetPreallocMs.toFixed(0)} ms (before the source connects; not in total time)`,
      ],
      [
        "source VM start",
        `${setup.sourceStartMs.toFixed(0)} ms (process, VM build, RAM fill, warmup; not in total time)`,
      ],
    ];
    if (options.json)
      process.stdout.write(
        `${JSON.stringify({ ...result, setup, verification: verdict, targetDevices: t.devices }, null, 2)}\n`,
      );
    else {
      process.stdout.write(
        `${migrationSummary(result, [
          ...setupRows,
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
          vmName: vm.name ?? "seed-vm",
          destination: `${options.transport} loopback`,
          machine: verdict.machine,
          date: new Date().toISOString(),
          extra: setupRows,
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
