import { loadDevice, reach, saveDevice } from "@mdevkit/conformance";
import { MdevError, MigState } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import {
  accelInvariants,
  CQE_BYTES,
  DST_POISON,
  describeAccel,
  ENGINE_SLOTS,
  MAX_SERVICE_TICKS,
} from "../src/index.js";
import { decodeQueueContext } from "../src/wire-formats.js";
import { drainGuest, makeHarness, ticks } from "./helpers.js";

describe.each(["hisi-zip", "qat-gen4"])("%s device and guest driver", (deviceType) => {
  it("runs the workload: every job completes once, in order, with byte-exact output", async () => {
    const h = await makeHarness({ deviceType });
    ticks(h.driver, 300);
    const mid = h.driver.guestStats();
    expect(mid.submitted).toBeGreaterThan(200);
    expect(h.driver.device.inFlight).toBeGreaterThan(0);
    drainGuest(h.driver);
    const s = h.driver.guestStats();
    expect(s.outstanding).toEqual([0, 0, 0, 0]);
    expect(s.completed).toBe(s.submitted);
    expect({
      dup: s.duplicates,
      bad: s.verifyFailures,
      order: s.orderViolations,
      err: s.errors,
    }).toEqual({
      dup: 0,
      bad: 0,
      order: 0,
      err: 0,
    });
    expect(accelInvariants(describeAccel(h.driver))).toEqual([]);
    h.dispose();
  });

  it("a CQ's phase bit flips exactly where the ring wrapped", async () => {
    const h = await makeHarness({ deviceType });
    ticks(h.driver, 400);
    drainGuest(h.driver);
    const d = describeAccel(h.driver);
    for (const [q, qp] of d.qps.entries()) {
      const cq = qp.cq;
      const laps = Math.floor(h.driver.guestStats().completed / 4 / cq.depth);
      expect(laps).toBeGreaterThan(0);
      for (let i = 0; i < cq.depth; i++) {
        const raw = h.memory.read(h.driver.layout.qps[q]!.cq + i * CQE_BYTES + 12, 2);
        const phase = raw[0]! & 1;
        // Entries before the tail were written in the current lap, with the phase the
        // producer holds now; entries from the tail on are one lap older.
        const current = cq.phase;
        expect(phase, `qp ${q} entry ${i}`).toBe(i < cq.tail ? current : current ^ 1);
      }
    }
    h.dispose();
  });
});

describe("stopping", () => {
  async function busy(stopPolicy: "drain" | "checkpoint") {
    const h = await makeHarness({ options: { stopPolicy } });
    ticks(h.driver, 40);
    while (h.driver.device.inFlight === 0) ticks(h.driver, 1);
    return h;
  }

  it("drain completes every job in flight, writes the caches back, then nothing moves", async () => {
    const h = await busy("drain");
    const inFlight = h.driver.device.inFlight;
    const events = h.trace.events.length;
    await reach(h.driver, MigState.STOP);
    expect(h.driver.lastStop).toMatchObject({
      inFlightBefore: inFlight,
      completed: inFlight,
      aborted: 0,
      inFlightAfter: 0,
    });
    expect(h.trace.events.length).toBeGreaterThan(events);
    const after = h.trace.events.length;
    ticks(h.driver, 20);
    expect(() => h.driver.guestStep()).toThrow(MdevError);
    expect(h.trace.events.length).toBe(after);
    h.dispose();
  });

  it("drain writes what the engine computed as it took each job: the stop computes nothing", async () => {
    // Two identical devices; in one, the guest overwrites every source buffer after the
    // engine took its jobs. A real engine has read its input by then, and the simulated one
    // works each job out as it takes it (a stop that computed them put the simulation's
    // deflate and cipher work in the VM's paused window): the drained outputs are equal.
    const [plain, scribbled] = [await busy("drain"), await busy("drain")];
    const { bufSlots, jobBytes } = scribbled.driver.profile;
    for (const qp of scribbled.driver.layout.qps)
      scribbled.memory.write(qp.src, new Uint8Array(bufSlots * jobBytes).fill(0xa5));
    await reach(plain.driver, MigState.STOP);
    await reach(scribbled.driver, MigState.STOP);
    expect(scribbled.driver.lastStop).toEqual(plain.driver.lastStop);
    expect(plain.driver.lastStop?.completed).toBeGreaterThan(0);
    for (const [q, qp] of plain.driver.layout.qps.entries()) {
      const dst = scribbled.driver.layout.qps[q]!.dst;
      expect(scribbled.memory.read(dst, bufSlots * jobBytes)).toEqual(
        plain.memory.read(qp.dst, bufSlots * jobBytes),
      );
    }
    plain.dispose();
    scribbled.dispose();
  });

  it("checkpoint aborts and rewinds: no output of an aborted job is visible", async () => {
    const h = await busy("checkpoint");
    const inFlight = h.driver.device.inFlight;
    const before = describeAccel(h.driver);
    await reach(h.driver, MigState.STOP);
    expect(h.driver.lastStop).toMatchObject({ completed: 0, aborted: inFlight, inFlightAfter: 0 });
    const after = describeAccel(h.driver);
    let rewound = 0;
    for (const [q, qp] of after.qps.entries()) {
      const back = (before.qps[q]!.sq.head - qp.sq.head + qp.sq.depth) % qp.sq.depth;
      expect(back).toBeLessThanOrEqual(ENGINE_SLOTS);
      // Every element from the rewound head to the tail is unfinished: its destination
      // still holds the guest's poison.
      for (let i = 0; i < back; i++) {
        const idx = (qp.sq.head + i) % qp.sq.depth;
        const slot = idx % h.driver.profile.bufSlots;
        const dst = h.driver.layout.qps[q]!.dst + slot * h.driver.profile.jobBytes;
        const word = new DataView(h.memory.read(dst, 4).buffer).getUint32(0, true);
        expect(word).toBe(DST_POISON);
      }
      rewound += back;
    }
    expect(rewound).toBe(inFlight);
    // Back to RUNNING on the source (a cancelled migration): the rewound jobs run again, once.
    await reach(h.driver, MigState.RUNNING);
    drainGuest(h.driver);
    const s = h.driver.guestStats();
    expect(s.completed).toBe(s.submitted);
    expect(s.duplicates + s.verifyFailures + s.orderViolations).toBe(0);
    h.dispose();
  });

  it.each(["drain", "checkpoint"] as const)(
    "%s: the guest-memory queue contexts equal the device's at STOP (cache write-back)",
    async (policy) => {
      const h = await busy(policy);
      await reach(h.driver, MigState.STOP);
      const d = describeAccel(h.driver);
      for (const qp of d.qps) {
        const sqc = decodeQueueContext(h.memory.read(d.sqcTableGpa + qp.qpn * 32, 32));
        const cqc = decodeQueueContext(h.memory.read(d.cqcTableGpa + qp.qpn * 32, 32));
        expect({ head: sqc.head, tail: sqc.tail, full: sqc.full }).toEqual({
          head: qp.sq.head,
          tail: qp.sq.tail,
          full: qp.sq.full,
        });
        expect({ head: cqc.head, tail: cqc.tail, full: cqc.full, phase: cqc.phase }).toEqual({
          head: qp.cq.head,
          tail: qp.cq.tail,
          full: qp.cq.full,
          phase: qp.cq.phase,
        });
      }
      h.dispose();
    },
  );

  it("a job completes no later than its service time after it was fetched", async () => {
    const h = await makeHarness({ options: { workload: false } });
    h.driver.guestSubmit(0, 3);
    ticks(h.driver, 1); // fetch
    expect(h.driver.device.inFlight).toBe(3);
    ticks(h.driver, MAX_SERVICE_TICKS);
    expect(h.driver.device.inFlight).toBe(0);
    h.dispose();
  });
});

describe("dirty tracking through the IOMMU", () => {
  it("the device pins the guest's DMA window while it uses it, and drops it on reset", async () => {
    const h = await makeHarness();
    expect(h.pinner?.pinnedPages ?? 0).toBe(0);
    ticks(h.driver, 1);
    expect(h.pinner?.pinnedPages).toBe(h.driver.layout.bytes / 4096);
    await h.driver.reset();
    expect(h.pinner?.pinnedPages).toBe(0);
    h.dispose();
  });

  it("with DMA logging nothing is pinned", async () => {
    const h = await makeHarness({ dirtyTracking: "dma-logging" });
    ticks(h.driver, 5);
    expect(h.pinner).toBeUndefined();
    expect(h.driver.pinnedWindow).toBeUndefined();
    h.dispose();
  });

  it("a target pins the window named in the stream when it loads", async () => {
    const src = await makeHarness();
    ticks(src.driver, 20);
    const saved = await saveDevice(src.driver);
    const dst = await makeHarness();
    await reach(dst.driver, MigState.STOP);
    expect(dst.pinner?.pinnedPages).toBe(0);
    await loadDevice(dst.driver, saved.bytes);
    expect(dst.pinner?.pinnedPages).toBe(src.driver.layout.bytes / 4096);
    expect(dst.driver.pinnedWindow).toEqual(src.driver.pinnedWindow);
    src.dispose();
    dst.dispose();
  });
});

describe("a PF RAS error", () => {
  it("fails the stop into ERROR, which only a reset leaves, back to a power-on device", async () => {
    const h = await makeHarness();
    ticks(h.driver, 20);
    h.driver.injectRasError();
    await expect(h.driver.setState(MigState.STOP)).rejects.toThrow(/RAS/);
    expect(h.driver.getState()).toBe(MigState.ERROR);
    await expect(h.driver.setState(MigState.RUNNING)).rejects.toThrow(MdevError);
    await h.driver.reset();
    expect(h.driver.getState()).toBe(MigState.RUNNING);
    expect(describeAccel(h.driver).qmState).toBe(0);
    expect(h.pinner?.pinnedPages).toBe(0);
    // The guest driver probes the VF again on its next tick and work starts over.
    ticks(h.driver, 30);
    expect(describeAccel(h.driver).qmState).toBe(1);
    drainGuest(h.driver);
    const s = h.driver.guestStats();
    expect(s.submitted).toBeGreaterThan(0);
    expect(s.completed).toBe(s.submitted);
    expect(s.duplicates + s.verifyFailures + s.orderViolations + s.errors).toBe(0);
    h.dispose();
  });
});
