/**
 * The invariants of the accelerator model, checked after real migrations through the
 * engine (MigrationSource → memory channel → MigrationTarget, a SimulatedVm on each side).
 * Device activity is ticked by hand so that jobs are in flight at the stop every time.
 */
import { MigState, type SimulatedVm } from "@mdevkit/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  type AccelDescription,
  accelPlugin,
  createAccelPlugin,
  describeAccel,
  MAX_SERVICE_TICKS,
} from "../src/index.js";
import { decodeQueueContext } from "../src/wire-formats.js";
import {
  accelOf,
  type DeviceEvent,
  drainGuest,
  migrate,
  recordingPlugin,
  startSource,
  ticks,
  vmConfig,
} from "./helpers.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/** Steps of device work until some jobs are in flight. */
function busy(vm: SimulatedVm, n = 60): void {
  const d = accelOf(vm);
  ticks(d, n);
  while (d.device.inFlight === 0) ticks(d, 1);
}

/**
 * 3. Phase: in every CQ, the entries before the tail carry the producer's current phase and
 * the rest the previous lap's (never-written entries read as phase 0 = the lap before 1).
 */
function expectPhaseFlipsAtWrap(vm: SimulatedVm): void {
  const d = accelOf(vm);
  for (const qp of describeAccel(d).qps) {
    const cq = d.layout.qps[qp.qpn]!.cq;
    for (let i = 0; i < qp.cq.depth; i++) {
      const phase = vm.memory.read(cq + i * 16 + 12, 1)[0]! & 1;
      expect(phase, `qp ${qp.qpn} CQE ${i}`).toBe(i < qp.cq.tail ? qp.cq.phase : qp.cq.phase ^ 1);
    }
  }
}

function expectHealthyGuest(vm: SimulatedVm): void {
  const d = accelOf(vm);
  expect(drainGuest(d)).toBeLessThan(200);
  expectPhaseFlipsAtWrap(vm);
  const s = d.guestStats();
  expect(s.outstanding.every((n) => n === 0)).toBe(true);
  expect(s.completed).toBe(s.submitted);
  expect({
    duplicates: s.duplicates,
    verifyFailures: s.verifyFailures,
    orderViolations: s.orderViolations,
    errors: s.errors,
  }).toEqual({ duplicates: 0, verifyFailures: 0, orderViolations: 0, errors: 0 });
}

const QUIET = new Set<MigState>([MigState.STOP, MigState.STOP_COPY, MigState.RESUMING]);

describe.each([
  ["hisi-zip", "drain", "iommu-pinned"],
  ["hisi-zip", "checkpoint", "iommu-pinned"],
  ["qat-gen4", "drain", "iommu-pinned"],
  ["qat-gen4", "checkpoint", "iommu-pinned"],
  ["hisi-zip", "drain", "dma-logging"],
] as const)(
  "migration of %s, stop policy %s, dirty tracking %s",
  (deviceType, stopPolicy, dirtyTracking) => {
    it("every invariant holds across source and target", async () => {
      const log: DeviceEvent[] = [];
      const source = await startSource(
        recordingPlugin(accelPlugin, "src", log),
        vmConfig({ deviceType, options: { stopPolicy }, dirtyTracking }),
      );
      vms.push(source);
      busy(source);
      const d = accelOf(source);
      const inFlight = d.device.inFlight;
      const submittedBefore = d.guestStats().submitted;
      let arrived: AccelDescription | undefined;
      let restoreTrace: string[] = [];
      const m = await migrate(source, recordingPlugin(accelPlugin, "dst", log), (vm) => {
        arrived = describeAccel(accelOf(vm));
        restoreTrace = accelOf(vm).device.lastRestoreTrace;
      });
      expect(m.result.outcome).toBe("completed");
      const target = m.target!.vm;
      vms.push(target);
      // 8. Dirty completeness: the target's RAM is the source's, byte for byte.
      expect(m.target!.ramSha256).toBe(m.result.ramSha256);
      expect(d.getState()).not.toBe(MigState.RUNNING);

      // The stop policy did what it says with the jobs in flight.
      expect(inFlight).toBeGreaterThan(0);
      expect(d.lastStop).toEqual(
        stopPolicy === "drain"
          ? { inFlightBefore: inFlight, completed: inFlight, aborted: 0, inFlightAfter: 0 }
          : { inFlightBefore: inFlight, completed: 0, aborted: inFlight, inFlightAfter: 0 },
      );

      // 5. Quiescence: no DMA write and no interrupt in STOP, STOP_COPY or RESUMING, on either host.
      expect(log.filter((e) => QUIET.has(e.state))).toEqual([]);
      expect(log.some((e) => e.host === "src")).toBe(true);

      // 6. Pointers and status equal the source's at STOP; fetch enabled after every pointer.
      const src = describeAccel(d);
      expect(arrived).toEqual(src);
      const arb = restoreTrace.indexOf("arb");
      expect(arb).toBe(restoreTrace.length - 1);
      for (const [i, step] of restoreTrace.entries())
        if (/\.(head|tail)/.test(step)) expect(i).toBeLessThan(arb);

      // 9. Cache coherence at STOP: the guest tables hold the device's pointers.
      for (const qp of src.qps) {
        const sqc = decodeQueueContext(source.memory.read(src.sqcTableGpa + qp.qpn * 32, 32));
        const cqc = decodeQueueContext(source.memory.read(src.cqcTableGpa + qp.qpn * 32, 32));
        expect([sqc.head, sqc.tail, sqc.full]).toEqual([qp.sq.head, qp.sq.tail, qp.sq.full]);
        expect([cqc.head, cqc.tail, cqc.full, cqc.phase]).toEqual([
          qp.cq.head,
          qp.cq.tail,
          qp.cq.full,
          qp.cq.phase,
        ]);
      }

      // 1–3. The target runs on; once submissions stop, every job ever submitted (on either
      // host) completed exactly once, in per-pair order, with byte-exact output.
      const t = accelOf(target);
      ticks(t, 150);
      expect(t.guestStats().submitted).toBeGreaterThan(submittedBefore);
      expectHealthyGuest(target);
      expect(log.filter((e) => QUIET.has(e.state))).toEqual([]);
    });
  },
);

describe("with activity ticking on its timer during the migration", () => {
  it.each(["drain", "checkpoint"] as const)(
    "%s: the invariants hold on the target",
    async (stopPolicy) => {
      const log: DeviceEvent[] = [];
      const config = { ...vmConfig({ options: { stopPolicy } }), deviceTickMs: 1 };
      const source = await startSource(recordingPlugin(accelPlugin, "src", log), config);
      vms.push(source);
      // Device activity runs on the VM's timer from here: through precopy up to the stop.
      source.startDeviceActivity();
      const d = accelOf(source);
      while (d.guestStats().submitted < 50) await new Promise((r) => setTimeout(r, 5));
      // The arrived state is taken before the target's activity timer can tick.
      let arrived: AccelDescription | undefined;
      const m = await migrate(source, recordingPlugin(accelPlugin, "dst", log), (vm) => {
        arrived = describeAccel(accelOf(vm));
      });
      expect(m.result.outcome).toBe("completed");
      vms.push(m.target!.vm);
      expect(m.target!.ramSha256).toBe(m.result.ramSha256);
      expect(log.filter((e) => QUIET.has(e.state))).toEqual([]);
      expect(arrived).toEqual(describeAccel(d));
      ticks(accelOf(m.target!.vm), 100);
      expectHealthyGuest(m.target!.vm);
    },
  );
});

describe("no lost wake-ups (4)", () => {
  /** A source whose every job is in an engine slot at the stop (SQs empty), then drained. */
  async function migratedWithUnreapedCompletions(resignal: boolean) {
    const source = await startSource(accelPlugin, vmConfig({ options: { workload: false } }));
    vms.push(source);
    const d = accelOf(source);
    for (let q = 0; q < 4; q++) d.guestSubmit(q, 3);
    ticks(d, 1);
    expect(d.device.inFlight).toBe(12);
    const m = await migrate(source, createAccelPlugin({ resignal }), (vm) => {
      // The interrupt the drain raised is lost in flight: the guest's latch is clear.
      const t = accelOf(vm);
      vm.memory.write(t.layout.guestPage + 36, new Uint8Array(4));
    });
    expect(m.result.outcome).toBe("completed");
    vms.push(m.target!.vm);
    const t = accelOf(m.target!.vm);
    t.setWorkload(false);
    expect(t.guestStats().irqLatch).toBe(0);
    expect(t.guestStats().outstanding).toEqual([3, 3, 3, 3]);
    return t;
  }

  it("completions written before STOP are re-signalled once after RUNNING and reaped in time", async () => {
    const t = await migratedWithUnreapedCompletions(true);
    for (let i = 0; i <= MAX_SERVICE_TICKS; i++) {
      t.tick();
      t.guestService();
    }
    expect(t.guestStats().outstanding).toEqual([0, 0, 0, 0]);
    expect(t.guestStats().verifyFailures).toBe(0);
    // One re-signal for the one event queue with pending entries, however long it runs.
    ticks(t, 20);
    expect(t.device.resignalsRaised).toBe(1);
  });

  it("control: without the re-signal the same completions wait forever", async () => {
    const t = await migratedWithUnreapedCompletions(false);
    for (let i = 0; i < 50; i++) {
      t.tick();
      t.guestService();
    }
    expect(t.guestStats().outstanding).toEqual([3, 3, 3, 3]);
    expect(t.device.resignalsRaised).toBe(0);
  });
});
