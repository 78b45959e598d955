// Issue #13: progress and the throughput samples must move through the whole migration,
// not jump at the end of the RAM pass (the bulk pass used to send without sampling).
import { afterEach, describe, expect, it } from "vitest";
import { MigrationSource, type SimulatedVm, TOKENS } from "../../src/index.js";
import {
  memoryTarget,
  RecordingSink,
  SteppingClock,
  startVm,
  toyHost,
} from "../helpers/engine-fixtures.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/** The largest step between consecutive values of `xs` (sorted), counting from 0 to `end`. */
function largestGap(xs: readonly number[], end: number): number {
  const sorted = [0, ...xs, end].sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < sorted.length; i++)
    gap = Math.max(gap, (sorted[i] as number) - (sorted[i - 1] as number));
  return gap;
}

/**
 * An idle VM of `memoryMiB` of random pages on a host whose clock steps `stepNs` at each
 * reading, with the host's events recorded.
 */
async function recordedVm(memoryMiB: number, stepNs: bigint, seed: number) {
  const host = toyHost("src");
  const sink = new RecordingSink();
  host.container.register(TOKENS.EventSink, { useValue: sink });
  host.container.register(TOKENS.Clock, { useValue: new SteppingClock(stepNs) });
  const vm = await startVm(host, vms, {
    memoryMiB,
    vcpus: 1,
    initialFill: 1,
    workloads: [{ pattern: "idle" }],
    devices: [],
    seed,
  });
  return { host, sink, vm };
}

describe("progress through the bulk RAM pass", () => {
  it("progress events and throughput samples are spread over the whole run, not bunched at its end", async () => {
    // 20 ms per clock reading: every sample is at least the minimum gap after the last one,
    // so which samples are kept depends on the engine's calls, never on this machine's speed.
    // 64 MiB of random pages: one pass of several batches (a record holds up to 8 MiB).
    const { host, sink, vm } = await recordedVm(64, 20_000_000n, 5);
    const { source, received } = memoryTarget(toyHost("dst"), vms);
    const result = await new MigrationSource(vm, source, { batchPages: 256 }, host).migrate();
    await received;
    expect(result.dataPages).toBeGreaterThan(15_000);

    const progress = sink.of("progress").map((e) => e.progress);
    const inRamPass = progress.filter((p) => p.phase === "precopy" && p.iteration === 1);
    expect(inRamPass.length).toBeGreaterThanOrEqual(5);
    // No stretch of more than a fifth of the bytes goes by without a progress event.
    const wire = result.wireBytes;
    expect(
      largestGap(
        progress.map((p) => p.wireBytes),
        wire,
      ),
    ).toBeLessThanOrEqual(wire * 0.2);
    // Progress never runs backwards and ends at the bytes the result reports.
    for (let i = 1; i < progress.length; i++)
      expect(progress[i]?.wireBytes).toBeGreaterThanOrEqual(progress[i - 1]?.wireBytes as number);
    expect(progress.at(-1)?.wireBytes).toBe(wire);
    // The pages sent fill RAM once by the end of the first pass (what the CLI's bar shows)
    // and end at every page the stream carried.
    for (let i = 1; i < progress.length; i++)
      expect(progress[i]?.ramPages).toBeGreaterThanOrEqual(progress[i - 1]?.ramPages as number);
    const firstPassDone = progress.find(
      (p) => p.iteration > 1 || p.phase === "switchover" || p.phase === "handover",
    );
    expect(firstPassDone?.ramPages).toBeGreaterThanOrEqual(vm.memory.pages);
    expect(progress.at(-1)?.ramPages).toBe(result.dataPages + result.zeroPages);

    // The report's throughput chart is drawn from these samples: they cover the run in bytes
    // and in time.
    const samples = result.throughput;
    expect(
      largestGap(
        samples.map((s) => s.bytes),
        wire,
      ),
    ).toBeLessThanOrEqual(wire * 0.2);
    expect(
      largestGap(
        samples.map((s) => s.tMs),
        result.totalTimeMs,
      ),
    ).toBeLessThanOrEqual(result.totalTimeMs * 0.2);
  });

  // 20 ms per reading: a reading taken after RESUMED (while the source hashes its RAM for
  // --verify-ram or closes the channel) lands past the total time. 1 ms: the sample at
  // RESUMED comes within the samples' minimum gap of the one before it.
  it.each([
    [20, 20_000_000n],
    [1, 1_000_000n],
  ])(
    "progress and the throughput samples end where the migration ends, not after the source's own checks (%i ms per clock reading)",
    async (_ms, stepNs) => {
      const { host, sink, vm } = await recordedVm(16, stepNs, 6);
      const { source, received } = memoryTarget(toyHost("dst"), vms);
      const result = await new MigrationSource(vm, source, { verifyRam: true }, host).migrate();
      await received;
      const total = result.totalTimeMs;

      // The demo's bar and log divide the bytes by the last progress event's time: that must
      // be the migration's, or the final rate shown is the bytes over the checks' time too.
      const progress = sink.of("progress").map((e) => e.progress);
      for (const p of progress) expect(p.tMs).toBeLessThanOrEqual(total);
      expect(progress.at(-1)).toMatchObject({ tMs: total, wireBytes: result.wireBytes });
      expect(sink.of("phase").at(-1)).toMatchObject({ phase: "completed", tMs: total });
      // The report's chart ends at the end of the migration, with every byte in it.
      for (const s of result.throughput) expect(s.tMs).toBeLessThanOrEqual(total);
      expect(result.throughput.at(-1)).toEqual({ tMs: total, bytes: result.wireBytes });
    },
  );
});
