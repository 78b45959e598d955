import type { SimulatedVm } from "@mdevkit/core";
import { afterEach, describe, expect, it } from "vitest";
import { createSriovNicPlugin, ETH_P_RARP, Reg, type SriovNicDriver } from "../src/index.js";
import {
  destroyVms,
  migrate,
  pendingTxSeqs,
  Recorder,
  sourceVm,
  wire,
} from "./migration-helpers.js";

afterEach(destroyVms);

/**
 * Migrations where the test owns time: the VM's activity timer is stopped and the test
 * ticks the devices (and the switch) itself, so the state at STOP is exactly the one the
 * test set up — a mailbox message in flight, a half-gathered TX packet, a throttled
 * interrupt — and the check after the target runs is exact.
 */
/**
 * Takes `driver`'s ticks away from its VM's activity timer (which may fire at any moment
 * on a loaded machine) and returns the only way left to tick it.
 */
function holdTicks(driver: SriovNicDriver): () => void {
  const tick = driver.tick.bind(driver);
  driver.tick = () => {};
  return tick;
}

async function steppedSource(
  deviceOptions: Record<string, unknown> = {},
  slowPfFrom = Number.POSITIVE_INFINITY,
) {
  const plugin = createSriovNicPlugin({
    caps: { mailboxDelay: (id) => (id >= slowPfFrom ? 1_000_000 : 1) },
  });
  const rig = await sourceVm({ deviceOptions, deviceTickMs: 1000, plugin });
  const step = holdTicks(rig.driver);
  await rig.vm.start();
  rig.vm.stopDeviceActivity();
  return { ...rig, step };
}

/** {@link migrate}, with the target driver's ticks held from before its VM starts. */
async function migrateStepped(vm: SimulatedVm, beforeRun: (d: SriovNicDriver) => void = () => {}) {
  let step: () => void = () => {};
  const m = await migrate(vm, {
    beforeRun: (d) => {
      step = holdTicks(d);
      beforeRun(d);
    },
  });
  m.target.vm.stopDeviceActivity();
  return { m, step: () => step() };
}

describe("mailbox across a migration (stepped)", () => {
  it("a VF→PF request the source's PF never answered is answered once by the target's PF", async () => {
    // The source host's PF answers the first three requests, then is too slow for the fourth.
    const { vm, driver, step } = await steppedSource({}, 3);
    const rec = new Recorder();
    rec.attach(driver, "src");
    for (let t = 0; t < 200 && rec.mbxSent.length < 4; t++) step();
    expect(rec.mbxSent).toHaveLength(4);
    expect(driver.snapshot().mailbox.inFlight).toBe("vf-to-pf");
    expect(rec.mbxHandled).toHaveLength(3);

    const { m, step: targetStep } = await migrateStepped(vm, (d) => rec.attach(d, "dst"));
    expect((m.arrived["mailbox"] as { inFlight: string }).inFlight).toBe("vf-to-pf");
    for (let t = 0; t < 100; t++) targetStep();

    const handledIds = rec.mbxHandled.map((h) => h.id);
    // Every request handled exactly once, in order; the in-flight one by the target's PF.
    expect(handledIds).toEqual(rec.mbxSent.slice(0, handledIds.length));
    expect(new Set(handledIds).size).toBe(handledIds.length);
    expect(rec.mbxHandled[3]).toEqual({ id: rec.mbxSent[3], role: "dst" });
    expect(rec.mbxReplies).toEqual(handledIds.slice(0, rec.mbxReplies.length));
    expect(rec.mbxReplies.length).toBeGreaterThanOrEqual(4);
    expect(m.driver.guestView().rstiSeen).toBe(0);
    expect(m.driver.guestView().mailboxNacks).toBe(0);
  });

  it("a PF→VF reply waiting at STOP is read once by the guest on the target, never re-handled", async () => {
    const { vm, driver, step } = await steppedSource();
    const rec = new Recorder();
    rec.attach(driver, "src");
    // Tick until the PF has just answered and the guest has not read the answer yet.
    for (let t = 0; t < 200; t++) {
      step();
      if (driver.snapshot().mailbox.inFlight === "pf-to-vf" && rec.mbxHandled.length >= 3) break;
    }
    expect(driver.snapshot().mailbox.inFlight).toBe("pf-to-vf");
    const repliesBefore = rec.mbxReplies.length;
    const handledBefore = rec.mbxHandled.length;

    const { m, step: targetStep } = await migrateStepped(vm, (d) => rec.attach(d, "dst"));
    targetStep();
    expect(rec.mbxReplies).toHaveLength(repliesBefore + 1);
    expect(rec.mbxReplies.at(-1)).toBe(rec.mbxHandled[handledBefore - 1]!.id);
    expect(rec.mbxHandled).toHaveLength(handledBefore); // the target's PF did not handle it again
    for (let t = 0; t < 100; t++) targetStep();
    const ids = rec.mbxHandled.map((h) => h.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(rec.mbxSent.slice(0, ids.length));
    expect(m.driver.guestView().rstiSeen).toBe(0);
  });
});

describe("TX partial packet at the initiator suspend (stepped)", () => {
  for (const policy of ["drop", "refetch"] as const) {
    it(`${policy}: the half-gathered packet is ${policy === "drop" ? "never sent" : "sent once, whole, by the target"}`, async () => {
      const { vm, driver, step } = await steppedSource({
        txRate: 40,
        txPartialPolicy: policy,
        rxRate: 0,
      });
      const { sw, dst } = wire(driver, 0);
      const rec = new Recorder();
      rec.attach(driver, "src", sw);
      // Tick until a TX queue ends a tick holding half a packet.
      let q = -1;
      for (let t = 0; t < 500 && q < 0; t++) {
        step();
        q = driver.snapshot().tx.findIndex((x) => x.partial !== null);
      }
      expect(q).toBeGreaterThanOrEqual(0);
      const partial = driver.snapshot().tx[q]!.partial!;
      const { m, step: targetStep } = await migrateStepped(vm, (d) => {
        rec.attach(d, "dst", sw);
        d.connect(dst);
      });
      expect(rec.partials).toHaveLength(1);
      const { seq, outcome } = rec.partials[0]!;
      expect(outcome).toBe(policy);
      expect(seq).toBeDefined();
      const arrived = (m.arrived["tx"] as { head: number; partial: unknown }[])[q]!;
      if (policy === "drop") expect(arrived.partial).toEqual({ ...partial, policy: "drop" });
      else {
        expect(arrived.partial).toBeNull();
        expect(arrived.head).toBe(partial.firstDesc);
      }
      for (let t = 0; t < 40; t++) targetStep();
      const txSeqs = sw.sink.filter((f) => f.ethertype !== ETH_P_RARP).map((f) => f.seq);
      expect(txSeqs.every((s) => s !== undefined)).toBe(true);
      expect(new Set(txSeqs).size).toBe(txSeqs.length);
      expect(txSeqs.filter((s) => s === seq)).toHaveLength(policy === "drop" ? 0 : 1);
      // Everything else the guest posted went out or is still queued.
      const pending = new Set(pendingTxSeqs(m.driver, m.target.vm));
      const sent = new Set(txSeqs);
      const missing = rec.txPosted.map((p) => p.seq).filter((s) => !sent.has(s) && !pending.has(s));
      expect(missing).toEqual(policy === "drop" ? [seq] : []);
    });
  }
});

describe("interrupts across a migration (stepped)", () => {
  it("a throttled cause pending at STOP fires exactly once after the target runs; a masked one stays masked", async () => {
    const { vm, driver } = await steppedSource({ guest: false, rxRate: 0 });
    const rec = new Recorder();
    rec.attach(driver, "src");
    driver.writeRegister(Reg.EITR0, 20);
    driver.writeRegister(Reg.EIAC, 0x7);
    driver.writeRegister(Reg.EIMS, 0x1);
    driver.writeRegister(Reg.EICS, 0x1); // fires
    driver.writeRegister(Reg.EICS, 0x1); // throttled: pending
    driver.writeRegister(Reg.EICS, 0x2); // vector 1 masked: waits in EICR
    expect(rec.msis.map((x) => x.vector)).toEqual([0]);
    expect(driver.snapshot().irq.pending).toBe(0x1);

    const { m, step: targetStep } = await migrateStepped(vm, (d) => rec.attach(d, "dst"));
    expect(vm.devices[0]!.irq.raised()).toBe(1); // the source raised nothing more
    expect(m.target.vm.devices[0]!.irq.raised()).toBe(0); // nothing during load
    // Vector 0: its first cause auto-cleared with the MSI, the second waits for the window; vector 1 masked.
    expect(m.arrived["irq"]).toMatchObject({ pending: 1, eims: 1, eicr: 0x3 });
    for (let t = 0; t < 40; t++) targetStep();
    expect(rec.msis.filter((x) => x.role === "dst").map((x) => x.vector)).toEqual([0]);
    expect(m.target.vm.devices[0]!.irq.raised()).toBe(1);
    m.driver.writeRegister(Reg.EIMS, 0x2);
    expect(rec.msis.filter((x) => x.role === "dst").map((x) => x.vector)).toEqual([0, 1]);
  });
});

describe("announce (stepped, switch and devices in lockstep)", () => {
  it("with no guest TX, the target's RARP moves the MAC within announce-initial ticks; the source gets nothing after STOP", async () => {
    const { vm, driver, step } = await steppedSource({ txRate: 0 });
    const { sw, src, dst } = wire(driver, 4);
    const rec = new Recorder();
    rec.attach(driver, "src", sw);
    for (let t = 0; t < 60; t++) {
      sw.tick();
      step();
    }
    const deliveredAtStop = src.counters.delivered;
    expect(deliveredAtStop).toBeGreaterThan(0);
    // The switch keeps sending while the VM moves: the wire does not stop for a migration.
    sw.tick();
    sw.tick();
    const { m, step: targetStep } = await migrateStepped(vm, (d) => {
      rec.attach(d, "dst", sw);
      d.connect(dst);
    });
    // The frames the port had handed over before STOP were completed by the responder suspend.
    expect(src.queued).toBe(0);
    expect(src.counters.delivered).toBe(deliveredAtStop + 2 * 4);
    const delivered = src.counters.delivered;
    const running = sw.now;
    expect(sw.vfPort).toBe("src");
    let movedAfter = -1;
    for (let t = 1; t <= 1000; t++) {
      sw.tick();
      targetStep();
      if (movedAfter < 0 && sw.vfPort === "dst") movedAfter = t;
    }
    expect(movedAfter).toBeGreaterThan(0);
    expect(movedAfter).toBeLessThanOrEqual(50);
    const rarps = sw.sink.filter((f) => f.ethertype === ETH_P_RARP);
    expect(rarps.every((f) => f.port === "dst" && f.bytes === 60)).toBe(true);
    // QEMU's qemu_announce_self: one at once, then initial + k * step later (50, 150, 250, 350 ms), capped at max.
    expect(rarps.map((f) => f.tick - running)).toEqual([1, 51, 201, 451, 801]);
    expect(src.counters.delivered).toBe(delivered);
    expect(sw.blackout.every((d) => d.port === "src")).toBe(true);
    expect(sw.blackout.every((d) => d.tick > running - 3 && d.tick <= running + movedAfter)).toBe(
      true,
    );
    expect(dst.counters.delivered).toBeGreaterThan(0);
    expect(m.driver.guestView().linkDownSeen).toBe(0);
  });
});
