import { MigState } from "@mdevkit/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  buildFrame,
  describeNicState,
  ETH_P_RARP,
  FLOW_COUNT,
  GUEST_STATS,
  Reg,
} from "../src/index.js";
import {
  destroyVms,
  migrate,
  pendingTxSeqs,
  Recorder,
  sourceVm,
  txSeqAt,
  until,
  wire,
} from "./migration-helpers.js";

afterEach(destroyVms);

/**
 * One live migration under traffic, timer-driven like a real VM (1 ms device ticks, a
 * switch ticking every ms), then every invariant of the model checked on the combined
 * record of source and target. Counts depend on timing; the invariants must not.
 */
describe.each([
  // The guest posts more than the VF fetches per tick, so packets straddle fetch bursts.
  { name: "P2P + precopy, drop policy", deviceOptions: { txRate: 40 }, engine: {} },
  {
    name: "P2P + precopy, refetch policy",
    deviceOptions: { txRate: 40, txPartialPolicy: "refetch" },
    engine: {},
  },
  {
    name: "stop-copy only (no P2P, no precopy)",
    deviceOptions: { migration: "stop-copy" },
    engine: {},
  },
])("live migration under traffic: $name", ({ deviceOptions, engine }) => {
  it("keeps every invariant: RX exactly once or accounted, TX at most once and whole, rings, RSS, stats, interrupts, mailbox, announce, link", async () => {
    const { vm: source, driver: src } = await sourceVm({ deviceOptions });
    const rec = new Recorder();
    const { sw, src: srcPort, dst: dstPort } = wire(src, 12);
    rec.attach(src, "src", sw);
    await source.start();
    sw.start(1);
    await until(() => rec.rx.length > 150 && rec.mbxHandled.length >= 3, "source traffic");

    let tgtRunningTick = -1;
    const flowFrames = Array.from({ length: FLOW_COUNT }, (_, f) => ({
      ...sw.generator.packet(0),
      ...sw.generator.flows[f]!,
      flow: f,
      seq: f,
    }));
    let acceptedOnArrival: boolean[] = [];
    let srcAtStop = { delivered: 0, rxEvents: 0, msis: 0 };
    const m = await migrate(source, {
      engine,
      beforeRun: (driver) => {
        tgtRunningTick = sw.now;
        srcAtStop = {
          delivered: srcPort.counters.delivered,
          rxEvents: rec.rx.length,
          msis: rec.msis.length,
        };
        rec.attach(driver, "dst", sw);
        driver.connect(dstPort);
        acceptedOnArrival = flowFrames.map((p) => driver.accepts(p));
      },
    });
    const dst = m.driver;
    expect(m.result.outcome).toBe("completed");
    // Dirty completeness: the target's RAM is the source's at switchover, byte for byte.
    expect(m.target.ramSha256).toBe(m.result.ramSha256);
    const stopTick = rec.transitions.find(
      (t) => t.role === "src" && (t.state === MigState.STOP || t.state === MigState.STOP_COPY),
    )!.tick;
    const srcStopped = src.snapshot();
    // Ring continuity, filters, RSS, stats, irq, mailbox: the target arrived with the source's state at STOP.
    expect(m.arrived).toEqual(describeNicState(srcStopped));

    await until(() => rec.rx.filter((r) => r.role === "dst").length > 150, "target traffic");
    await until(() => sw.vfPort === "dst", "FDB move");
    sw.stop();
    // Drain: the wire is quiet; let the target's guest reap what its device wrote.
    await until(() => dstPort.queued === 0, "port drained");
    for (let i = 0; i < 5; i++) dst.tick();
    m.target.vm.stopDeviceActivity();
    source.stopDeviceActivity();
    dst.tick();

    // 1. RX exactly once or accounted.
    const seqs = rec.rx.map((r) => r.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs.every((s) => s < sw.sent)).toBe(true);
    const c = [srcPort.counters, dstPort.counters];
    const sum = (k: keyof (typeof c)[0]) => c[0]![k] + c[1]![k];
    expect(sum("delivered")).toBe(rec.rx.length);
    expect(sw.sent).toBe(
      rec.rx.length +
        sum("noDesc") +
        sum("filtered") +
        sum("fault") +
        sum("overrun") +
        sw.droppedBlackout +
        sw.unknownDst,
    );
    expect(sum("fault")).toBe(0);
    const moved = sw.fdbMoves.find((mv) => mv.port === "dst")!.tick;
    for (const d of sw.blackout) {
      expect(d.tick).toBeGreaterThanOrEqual(d.port === "src" ? stopTick : tgtRunningTick);
      expect(d.tick).toBeLessThanOrEqual(moved);
    }
    // Nothing reached the source's guest or device after its STOP.
    expect(srcPort.counters.delivered).toBe(srcAtStop.delivered);
    expect(rec.rx.slice(srcAtStop.rxEvents).every((r) => r.role === "dst")).toBe(true);

    // 2. TX at most once, never torn.
    const frames = sw.sink.filter((f) => f.ethertype !== ETH_P_RARP);
    expect(frames.every((f) => f.seq !== undefined)).toBe(true);
    const txSeqs = frames.map((f) => f.seq!);
    expect(new Set(txSeqs).size).toBe(txSeqs.length);
    const posted = new Set(rec.txPosted.map((p) => p.seq));
    expect(txSeqs.every((s) => posted.has(s))).toBe(true);
    const dropped = rec.partials.filter((p) => p.outcome === "drop" && p.role === "src");
    expect(dropped.length).toBeLessThanOrEqual(2);
    // A short packet split in two has its marker across both halves: the device, which
    // fetched only the first, cannot name it, so the ring in the source's memory does.
    const droppedSeqs = dropped.map((d) => d.seq ?? txSeqAt(src, source, d.queue, d.firstDesc));
    expect(droppedSeqs.every((s) => s !== undefined)).toBe(true);
    for (const s of droppedSeqs) expect(txSeqs).not.toContain(s);
    const pending = new Set(pendingTxSeqs(dst, m.target.vm));
    const sent = new Set(txSeqs);
    const missing = [...posted].filter((s) => !sent.has(s) && !pending.has(s));
    expect(missing.sort()).toEqual(droppedSeqs.map((s) => s!).sort());

    // 3. Ring continuity: the first RX descriptor the target used per queue is the saved head.
    for (const q of [0, 1]) {
      const first = rec.rxWritebacks.find((w) => w.role === "dst" && w.queue === q);
      if (first !== undefined) expect(first.index).toBe(srcStopped.rx[q]!.head);
    }

    // 4. RSS and filters: every flow lands on the same queue, and is accepted alike, before and after.
    expect(acceptedOnArrival).toEqual(flowFrames.map((p) => src.accepts(p)));
    expect(acceptedOnArrival.filter((a) => a).length).toBeGreaterThanOrEqual(12);
    for (let f = 0; f < FLOW_COUNT; f++) {
      const p = flowFrames[f]!;
      expect(dst.classify(buildFrame(p))).toEqual(src.classify(buildFrame(p)));
      const queues = new Set(rec.rx.filter((r) => r.flow === f).map((r) => r.queue));
      expect(queues.size).toBeLessThanOrEqual(1);
    }

    // 5. Statistics: continue from the source's values; the deltas are the traffic exactly.
    const finalStats = dst.snapshot().stats;
    expect(finalStats.gprc).toBe(sum("delivered"));
    expect(finalStats.gprc).toBeGreaterThanOrEqual(srcStopped.stats.gprc);
    expect(finalStats.gptc).toBe(frames.length);
    const guest = dst.guestView();
    expect(guest.statTotals[GUEST_STATS.indexOf(Reg.VFGPRC)]).toBe(finalStats.gprc);

    // 6. Interrupts: none from the source after STOP.
    expect(rec.msis.slice(srcAtStop.msis).every((x) => x.role === "dst")).toBe(true);
    expect(rec.msis.some((x) => x.role === "dst")).toBe(true);

    // 8. Mailbox: each request handled once, in order, each reply seen once; no reset seen.
    const handled = rec.mbxHandled.map((h) => h.id);
    expect(rec.mbxSent.slice(0, handled.length)).toEqual(handled);
    expect(handled.slice(0, rec.mbxReplies.length)).toEqual(rec.mbxReplies);
    expect(rec.mbxSent.length - handled.length).toBeLessThanOrEqual(1);
    expect(guest.rstiSeen).toBe(0);
    expect(guest.rxBad).toBe(0);

    // 9. Announce: RARPs for the VF's MAC left the target port and moved the FDB there.
    const rarps = sw.sink.filter((f) => f.ethertype === ETH_P_RARP);
    expect(rarps.length).toBeGreaterThanOrEqual(1);
    expect(rarps.every((f) => f.port === "dst")).toBe(true);
    expect(sw.vfPort).toBe("dst");

    // 10. No link flap.
    expect(guest.linkDownSeen).toBe(0);
    expect(src.getState()).not.toBe(MigState.RUNNING);
  });
});
