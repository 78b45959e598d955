// `npm run bench -w @mdevkit/plugin-accel`: the heavy profile (64 KiB jobs) live-migrated in
// one process over a memory channel, stop policy drain vs checkpoint (and IOMMU tracking vs
// DMA logging): downtime, the part of it spent stopping devices, jobs in flight at the stop
// and what the stop did with them. Every run is checked afterwards: on the target, every
// job submitted on either host completes exactly once with byte-exact output.
import "reflect-metadata";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import {
  createHost,
  createMemoryChannelPair,
  MigrationSource,
  MigrationTarget,
  parseVmConfig,
  SimulatedVm,
} from "@mdevkit/core";
import { accelPlugin } from "../dist/index.js";

/**
 * The plugin with each driver's stop arc timed: the time the device itself needs to stop
 * (drain or checkpoint), apart from the vCPU pause and the engine around it.
 */
function timedPlugin(stopArcs) {
  return {
    ...accelPlugin,
    create: async (ctx) => {
      const driver = await accelPlugin.create(ctx);
      const setState = driver.setState.bind(driver);
      driver.setState = async (next) => {
        const from = driver.getState();
        const t = performance.now();
        const out = await setState(next);
        // RUNNING (2) or PRE_COPY (6) to STOP (1) or STOP_COPY (3): the stop arc.
        if ((from === 2 || from === 6) && (next === 1 || next === 3))
          stopArcs.push(performance.now() - t);
        return out;
      };
      return driver;
    },
  };
}

const RUNS = Number(process.env.MDEVKIT_BENCH_RUNS ?? 7);
const WARMUP_MS = Number(process.env.MDEVKIT_BENCH_WARMUP_MS ?? 300);

function config(stopPolicy, dirtyTracking, seed) {
  return parseVmConfig({
    memoryMiB: 16,
    vcpus: 1,
    workloads: [{ pattern: "idle" }],
    devices: [
      {
        slot: "00:06.0",
        plugin: "accel",
        deviceType: "hisi-zip",
        options: { profile: "heavy", stopPolicy },
        dirtyTracking,
      },
    ],
    deviceTickMs: 2,
    seed,
  });
}

async function once(stopPolicy, dirtyTracking, seed) {
  const stopArcs = [];
  const source = await SimulatedVm.create(
    config(stopPolicy, dirtyTracking, seed),
    createHost({ name: "src", plugins: [timedPlugin(stopArcs)] }),
    { role: "source" },
  );
  await source.start();
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const channel = createMemoryChannelPair();
  const target = new MigrationTarget(
    createHost({ name: "dst", plugins: [accelPlugin] }),
    channel.target,
    { startVcpus: false },
  );
  const received = target.receive();
  received.catch(() => {});
  const result = await new MigrationSource(source, channel.source, {}).migrate();
  const arrived = await received;
  arrived.vm.stopDeviceActivity();
  const src = source.devices[0].driver;
  const dst = arrived.vm.devices[0].driver;
  dst.setWorkload(false);
  for (let i = 0; i < 200 && dst.guestStats().outstanding.some((n) => n > 0); i++) {
    dst.tick();
    dst.guestService();
  }
  const s = dst.guestStats();
  const healthy =
    s.completed === s.submitted &&
    s.duplicates + s.verifyFailures + s.orderViolations + s.errors === 0;
  await source.destroy();
  await arrived.vm.destroy();
  if (!healthy) throw new Error(`run ${seed}: guest invariants broken: ${JSON.stringify(s)}`);
  return {
    downtimeMs: result.downtimeMs,
    stopDevicesMs: result.downtime.stopDevicesMs,
    stopArcMs: stopArcs.reduce((a, b) => a + b, 0),
    inFlight: src.lastStop.inFlightBefore,
    completed: src.lastStop.completed,
    aborted: src.lastStop.aborted,
    jobs: s.submitted,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const rows = [];
for (const dirtyTracking of ["iommu-pinned", "dma-logging"]) {
  for (const stopPolicy of ["drain", "checkpoint"]) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await once(stopPolicy, dirtyTracking, 100 + i));
    const sum = (k) => runs.reduce((a, r) => a + r[k], 0);
    rows.push(
      `| ${stopPolicy} | ${dirtyTracking} | ${median(runs.map((r) => r.downtimeMs)).toFixed(1)} ms | ` +
        `${median(runs.map((r) => r.stopDevicesMs)).toFixed(1)} ms | ` +
        `${median(runs.map((r) => r.stopArcMs)).toFixed(2)} ms | ` +
        `${(sum("inFlight") / RUNS).toFixed(1)} (${Math.min(...runs.map((r) => r.inFlight))}–${Math.max(...runs.map((r) => r.inFlight))}) | ` +
        `${sum("completed")} / ${sum("aborted")} | ${sum("jobs")} |`,
    );
    console.error(`${stopPolicy} ${dirtyTracking}: ${JSON.stringify(runs)}`);
  }
}
console.log(
  `\nheavy profile (4 queue pairs, 64 KiB jobs), 16 MiB VM, memory channel, ${RUNS} runs per row, ${WARMUP_MS} ms warm-up — ` +
    `${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, ` +
    `load average ${loadavg()[0].toFixed(1)} at the end\n`,
);
console.log(
  "| stop policy | dirty tracking | downtime (median) | pause + stop devices (median) | device stop arc (median) | jobs in flight at stop: mean (range) | completed / aborted by the stop (all runs) | jobs verified on the target (all runs) |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
