// The source's switchover prediction includes fixed costs measured in this run.
import { afterEach, describe, expect, it } from "vitest";
import { MigrationSource, type SimulatedVm, TOKENS } from "../../src/index.js";
import { memoryTarget, SteppingClock, startVm, toyHost } from "../helpers/engine-fixtures.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

describe("switchover prediction", () => {
  it("every iteration's expected downtime includes measured fixed costs", async () => {
    const host = toyHost("src");
    const vm = await startVm(host, vms, {
      memoryMiB: 8,
      vcpus: 1,
      workloads: [{ pattern: "uniform", pagesPerSecond: 2_000 }],
      devices: [{ slot: "00:05.0", plugin: "dma-toy", deviceType: "toy" }],
      initialFill: 0.25,
      seed: 9,
    });
    const { source, received } = memoryTarget(toyHost("dst"), vms);
    const result = await new MigrationSource(
      vm,
      source,
      { downtimeLimitMs: 10_000 },
      host,
    ).migrate();
    await received;
    expect(result.iterations.length).toBeGreaterThan(0);
    for (const it of result.iterations) {
      // The final sync and the digests take some time.
      expect(it.fixedCostMs).toBeGreaterThan(0);
      expect(it.expectedDowntimeMs).toBeGreaterThanOrEqual(it.fixedCostMs ?? 0);
    }
  });

  it("a limit below the measured fixed costs is not promised: the migration gives up", async () => {
    const host = toyHost("src");
    // Every reading of this clock is 2 ms after the last: each measured part of the
    // switchover (final sync, digests) takes at least that long.
    host.container.register(TOKENS.Clock, { useValue: new SteppingClock(2_000_000n) });
    const vm = await startVm(host, vms, {
      memoryMiB: 8,
      vcpus: 1,
      workloads: [{ pattern: "idle" }],
      devices: [{ slot: "00:05.0", plugin: "dma-toy", deviceType: "toy" }],
      initialFill: 0.25,
      seed: 9,
    });
    const { source } = memoryTarget(toyHost("dst"), vms);
    // Nothing is left to send after the first pass, but at least 6 ms of fixed costs
    // (a 2 ms sync, two 2 ms digests) exceed 5 ms.
    const err = await new MigrationSource(
      vm,
      source,
      { downtimeLimitMs: 5, maxIterations: 2 },
      host,
    )
      .migrate()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "EAGAIN", rolledBack: true });
    expect(String((err as Error).message)).toMatch(/measured fixed switchover costs/);
  });
});
