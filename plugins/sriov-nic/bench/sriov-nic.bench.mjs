// `npm run bench -w @mdevkit/plugin-sriov-nic`: a VF under the `heavy` profile (the
// simulated switch offers 813 frames per ms, ≈ 10 GbE of 1500-byte frames) live-migrated
// in one process over a memory channel, with P2P + precopy (mlx5-style: RX keeps flowing
// through RUNNING_P2P while the vCPUs are paused) against STOP_COPY only (the VF stops the
// moment the vCPUs do). Reports the engine's downtime and the frames the switch had to drop
// in the blackout, side by side, and checks after every run that no frame reached the guest
// twice and every frame sent is accounted for. Results are appended to docs/benchmarks.md.
// MDEVKIT_BENCH_RUNS sets runs per mode (default 5), MDEVKIT_BENCH_MIB the guest RAM (64).
import "reflect-metadata";
import { appendFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import {
  createHost,
  createMemoryChannelPair,
  MigrationSource,
  MigrationTarget,
  MigState,
  parseVmConfig,
  SimulatedVm,
} from "@mdevkit/core";
import { PROFILES, SimulatedSwitch, sriovNicPlugin } from "@mdevkit/plugin-sriov-nic";

const RUNS = Number(process.env.MDEVKIT_BENCH_RUNS ?? 5);
const MIB = Number(process.env.MDEVKIT_BENCH_MIB ?? 64);
const WARMUP_MS = 400;
const AFTER_MS = 300;
const RX_RATE = PROFILES.heavy.rxRate;
const BANDWIDTH = Number(process.env.MDEVKIT_BENCH_BANDWIDTH ?? 400e6);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function config(migration) {
  return parseVmConfig({
    name: "nic-bench",
    memoryMiB: MIB,
    vcpus: 1,
    initialFill: 0.25,
    workloads: [{ pattern: "hot-set", pagesPerSecond: 5000, hotSetPages: 1024, hotFraction: 1 }],
    devices: [
      {
        slot: "00:06.0",
        plugin: "sriov-nic",
        deviceType: "igbvf-2q",
        options: { profile: "heavy", migration },
      },
    ],
    deviceTickMs: 1,
    seed: 7,
  });
}

async function run(migration) {
  const source = await SimulatedVm.create(
    config(migration),
    createHost({ name: "src", plugins: [sriovNicPlugin] }),
    { role: "source" },
  );
  const driver = source.devices[0].driver;
  const sw = new SimulatedSwitch({ seed: 3, vfMac: driver.pf.adminMac, rxRate: RX_RATE });
  const srcPort = sw.addPort("src");
  const dstPort = sw.addPort("dst");
  driver.connect(srcPort);
  const seqs = new Set();
  let dup = 0;
  const onRx = (seq) => {
    if (seqs.has(seq)) dup++;
    seqs.add(seq);
  };
  driver.guestTrace = { rxDelivered: onRx };
  // Wall time at which the source's responder went off (its STOP / STOP_COPY arc).
  let stoppedAt;
  const setState = driver.setState.bind(driver);
  driver.setState = async (next) => {
    const out = await setState(next);
    if (stoppedAt === undefined && (next === MigState.STOP || next === MigState.STOP_COPY))
      stoppedAt = performance.now();
    return out;
  };
  await source.start();
  sw.start(1);
  await sleep(WARMUP_MS);
  const channel = createMemoryChannelPair();
  const target = new MigrationTarget(
    createHost({ name: "dst", plugins: [sriovNicPlugin] }),
    channel.target,
    {
      beforeRun: (vm) => {
        const d = vm.devices[0].driver;
        d.guestTrace = { rxDelivered: onRx };
        d.connect(dstPort);
      },
    },
  );
  const received = target.receive();
  received.catch(() => {});
  const blackoutBefore = sw.blackout.length;
  // A bandwidth cap makes the in-process engine wait on timers, so the wire and the
  // devices keep ticking during the migration instead of starving behind it.
  const result = await new MigrationSource(source, channel.source, {
    maxBandwidth: BANDWIDTH,
  }).migrate();
  const targetVm = (await received).vm;
  await sleep(AFTER_MS);
  sw.stop();
  await sleep(20);
  source.stopDeviceActivity();
  targetVm.stopDeviceActivity();
  const tdrv = targetVm.devices[0].driver;
  for (let i = 0; i < 3; i++) tdrv.tick();
  const c = (k) => srcPort.counters[k] + dstPort.counters[k];
  const accounted =
    c("delivered") +
    c("noDesc") +
    c("filtered") +
    c("fault") +
    c("overrun") +
    sw.droppedBlackout +
    sw.unknownDst +
    srcPort.queued +
    dstPort.queued;
  if (dup !== 0) throw new Error(`${migration}: ${dup} frames reached the guest twice`);
  if (accounted !== sw.sent)
    throw new Error(`${migration}: ${sw.sent} sent, ${accounted} accounted for`);
  const blackout = sw.blackout.slice(blackoutBefore);
  const out = {
    downtimeMs: result.downtimeMs,
    dropped: blackout.reduce((n, d) => n + d.count, 0),
    droppedAtSource: blackout.filter((d) => d.port === "src").reduce((n, d) => n + d.count, 0),
    // The wire's blackout, wall time: the source's responder off until the FDB points at the target.
    wireBlackoutMs: sw.fdbMoves.find((m) => m.port === "dst").wallMs - stoppedAt,
    noDesc: c("noDesc") + c("overrun"),
    delivered: c("delivered"),
    sent: sw.sent,
  };
  await source.destroy();
  await targetVm.destroy();
  return out;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const modes = { "p2p-precopy": [], "stop-copy": [] };
for (let i = 0; i < RUNS; i++) {
  for (const mode of Object.keys(modes)) {
    const r = await run(mode);
    modes[mode].push(r);
    console.log(
      `${mode} run ${i + 1}: downtime ${r.downtimeMs.toFixed(1)} ms, wire blackout ${r.wireBlackoutMs.toFixed(1)} ms (${Math.round(r.wireBlackoutMs * RX_RATE)} frames at line rate), dropped in blackout ${r.dropped} (at the source port ${r.droppedAtSource}), no-descriptor drops ${r.noDesc}, delivered ${r.delivered}/${r.sent}`,
    );
  }
}

const rows = Object.entries(modes).map(([mode, rs]) => {
  const d = rs.map((r) => r.downtimeMs);
  const b = rs.map((r) => r.dropped);
  const label = mode === "p2p-precopy" ? "STOP_COPY \\| P2P \\| PRE_COPY" : "STOP_COPY only";
  const w = rs.map((r) => r.wireBlackoutMs);
  return `| ${label} | ${median(d).toFixed(1)} ms (${Math.min(...d).toFixed(1)}–${Math.max(...d).toFixed(1)}) | ${median(w).toFixed(1)} ms (${Math.min(...w).toFixed(1)}–${Math.max(...w).toFixed(1)}) | ${Math.round(median(w) * RX_RATE)} | ${median(b)} (${Math.min(...b)}–${Math.max(...b)}) | ${median(rs.map((r) => r.noDesc))} | ${rs.reduce((n, r) => n + r.delivered, 0)} |`;
});
const table = [
  "| device flags | downtime, median (range) | wire blackout (responder off → FDB moved), median (range) | frames lost in that blackout at 813/ms | frames the simulated switch dropped in the blackout, median (range) | no-descriptor + overrun drops, median | frames delivered, all runs (each exactly once) |",
  "|---|---|---|---|---|---|---|",
  ...rows,
].join("\n");
console.log(`\n${table}`);
const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()[0].toFixed(1)}, ${RUNS} runs per row, ${MIB} MiB guest`;
console.log(machine);
if (process.env.MDEVKIT_BENCH_NO_DOCS !== "1") {
  appendFileSync(
    new URL("../../../docs/benchmarks.md", import.meta.url),
    `\n### Run of ${new Date().toISOString()}\n\n${machine}.\n\n${table}\n`,
  );
}
