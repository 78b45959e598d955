import { isMdevError, type SimulatedVm } from "@mdevkit/core";
import { afterEach, describe, expect, it } from "vitest";
import { ETH_P_RARP, type SriovNicDriver } from "../src/index.js";
import { destroyVms, migrate, Recorder, sourceVm, until, wire } from "./migration-helpers.js";

afterEach(destroyVms);

/** Replaces the VM's one 1:1 mapping by `pieces` mappings with a 4 KiB hole between each two. */
function splitIommu(vm: SimulatedVm, pieces: number): void {
  const size = vm.memory.size;
  vm.iommu.unmap(0, size);
  const step = 1024 * 1024;
  for (let i = 0; i < pieces - 1; i++)
    vm.iommu.map({ iova: i * step, gpa: i * step, length: step - 4096 });
  vm.iommu.map({
    iova: (pieces - 1) * step,
    gpa: (pieces - 1) * step,
    length: size - (pieces - 1) * step,
  });
}

/** Spies on a driver's DMA-logging calls. */
function spyLogging(driver: SriovNicDriver) {
  const starts: { ranges: number; result: string }[] = [];
  let reportFailures = 0;
  const logStart = driver.logStart.bind(driver);
  driver.logStart = async (ranges, hint) => {
    try {
      const page = await logStart(ranges, hint);
      starts.push({ ranges: ranges.length, result: "ok" });
      return page;
    } catch (err) {
      starts.push({ ranges: ranges.length, result: isMdevError(err) ? err.code : "other" });
      throw err;
    }
  };
  const report = driver.logReadAndClear.bind(driver);
  driver.logReadAndClear = async (...args) => {
    try {
      await report(...args);
    } catch (err) {
      reportFailures++;
      throw err;
    }
  };
  return { starts, failures: () => reportFailures };
}

/** A live migration under traffic; returns what the invariants need. */
async function migrateUnderTraffic(
  deviceOptions: Record<string, unknown>,
  prepare: (vm: SimulatedVm) => void,
) {
  const { vm, driver } = await sourceVm({ deviceOptions });
  prepare(vm);
  const spy = spyLogging(driver);
  const rec = new Recorder();
  const { sw, src, dst } = wire(driver, 12);
  rec.attach(driver, "src", sw);
  await vm.start();
  sw.start(1);
  await until(() => rec.rx.length > 100, "source traffic");
  const m = await migrate(vm, {
    beforeRun: (d) => {
      rec.attach(d, "dst", sw);
      d.connect(dst);
    },
  });
  await until(() => rec.rx.filter((r) => r.role === "dst").length > 100, "target traffic");
  sw.stop();
  await until(() => dst.queued === 0, "port drained");
  for (let i = 0; i < 3; i++) m.driver.tick();
  m.target.vm.stopDeviceActivity();
  m.driver.tick();
  return { m, rec, sw, src, dst, spy };
}

function expectTrafficIntact(r: Awaited<ReturnType<typeof migrateUnderTraffic>>): void {
  const { m, rec, sw, src, dst } = r;
  expect(m.result.outcome).toBe("completed");
  expect(m.target.ramSha256).toBe(m.result.ramSha256);
  const seqs = rec.rx.map((x) => x.seq);
  expect(new Set(seqs).size).toBe(seqs.length);
  const c = (k: keyof typeof src.counters) => src.counters[k] + dst.counters[k];
  expect(c("delivered")).toBe(rec.rx.length);
  expect(sw.sent).toBe(
    rec.rx.length +
      c("noDesc") +
      c("filtered") +
      c("fault") +
      c("overrun") +
      sw.droppedBlackout +
      sw.unknownDst,
  );
  const tx = sw.sink.filter((f) => f.ethertype !== ETH_P_RARP).map((f) => f.seq);
  expect(tx.every((s) => s !== undefined)).toBe(true);
  expect(new Set(tx).size).toBe(tx.length);
  const guest = m.driver.guestView();
  expect(guest.rxBad).toBe(0);
  expect(guest.rstiSeen).toBe(0);
}

describe("dirty tracking by device DMA logging, through the engine's DirtySync", () => {
  it("a device that logs at most 2 ranges makes the engine merge the VM's 6 split mappings; the migration is exact", async () => {
    const r = await migrateUnderTraffic({ maxDmaLogRanges: 2 }, (vm) => splitIommu(vm, 6));
    // START over 6 ranges is refused (E2BIG), then over 3 (E2BIG), then accepted over 1.
    expect(r.spy.starts).toEqual([
      { ranges: 6, result: "E2BIG" },
      { ranges: 3, result: "E2BIG" },
      { ranges: 1, result: "ok" },
    ]);
    expect(r.spy.failures()).toBe(0);
    expectTrafficIntact(r);
  });

  it("within the limit the split ranges are logged as they are", async () => {
    const r = await migrateUnderTraffic({ maxDmaLogRanges: 6 }, (vm) => splitIommu(vm, 6));
    expect(r.spy.starts).toEqual([{ ranges: 6, result: "ok" }]);
    expectTrafficIntact(r);
  });

  it("a tracker error on every report makes the engine treat all memory as dirty; the migration is still exact", async () => {
    const r = await migrateUnderTraffic({ dirtyLogFault: true }, () => {});
    expect(r.spy.failures()).toBeGreaterThanOrEqual(1);
    expectTrafficIntact(r);
    // All memory was dirty: the final pass sent every page of guest RAM again.
    expect(r.m.result.finalPages).toBe(r.m.target.vm.memory.pages);
  });
});
