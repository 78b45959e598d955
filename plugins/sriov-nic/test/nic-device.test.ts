import { describe, expect, it } from "vitest";
import {
  buildFrame,
  decodeGuestControl,
  Mbx,
  MbxMsg,
  MSGTYPE_ACK,
  QUEUE_ENABLE,
  Reg,
  readMarker,
  TrafficGenerator,
  TxCmd,
} from "../src/index.js";
import { PF, rig } from "./fakes.js";

/** A rig whose guest has probed, got its MAC and joined its VLAN and groups. */
function probed(policy: "drop" | "refetch" = "drop") {
  const r = rig({ policy });
  for (let t = 0; t < 12; t++) {
    r.guest.tick();
    r.device.tick();
  }
  return r;
}

describe("guest probe and mailbox", () => {
  it("programs both queue pairs, RSS and vectors, and learns the MAC over the mailbox", () => {
    const { device, io, layout } = probed();
    const s = device.state;
    expect(s.rx.map((q) => q.enabled)).toEqual([true, true]);
    expect(s.tx.map((q) => q.enabled)).toEqual([true, true]);
    expect(s.rx[0].tail).toBe(layout.rxDescs - 1);
    expect(s.rss.mrqc & 1).toBe(1);
    expect(s.filters.vlans[100 >> 3]! & (1 << (100 & 7))).not.toBe(0);
    expect(s.filters.mcHashes.length).toBe(2);
    const view = decodeGuestControl(io.memory.subarray(layout.control, layout.control + 256));
    expect(view.initialised).toBe(true);
    expect(view.mac).toBe(PF.adminMac);
    expect(view.mailboxReplies).toBeGreaterThanOrEqual(3);
    expect(view.mailboxNacks).toBe(0);
    expect(device.readReg(Reg.RXDCTL0) & QUEUE_ENABLE).not.toBe(0);
  });

  it("a request is answered once by the PF 1-2 ticks later and the VF acknowledges it", () => {
    const { device } = rig();
    device.writeReg(Reg.VMBMEM, MbxMsg.GET_QUEUES | (7 << 16));
    device.writeReg(Reg.V2PMAILBOX, Mbx.REQ);
    expect(device.state.mailbox.inFlight).toBe("vf-to-pf");
    const handled: number[] = [];
    device.trace = { mailboxHandled: (id) => handled.push(id) };
    for (let t = 0; t < 5; t++) device.tick();
    expect(handled).toEqual([7]);
    expect(device.state.mailbox.inFlight).toBe("pf-to-vf");
    expect(device.readReg(Reg.V2PMAILBOX) & Mbx.PFSTS).not.toBe(0);
    expect(device.readReg(Reg.VMBMEM) & MSGTYPE_ACK).not.toBe(0);
    expect(device.readReg(Reg.VMBMEM + 4)).toBe(2);
    device.writeReg(Reg.V2PMAILBOX, Mbx.ACK);
    expect(device.state.mailbox.inFlight).toBe("none");
    // A second REQ while one is in flight is ignored, not queued twice.
    device.writeReg(Reg.V2PMAILBOX, Mbx.REQ);
    device.writeReg(Reg.V2PMAILBOX, Mbx.REQ);
    for (let t = 0; t < 5; t++) device.tick();
    expect(handled).toEqual([7, 7]);
  });

  it("an untrusted VF may not change its MAC", () => {
    const { device } = rig();
    device.writeReg(Reg.VMBMEM, MbxMsg.SET_MAC_ADDR);
    device.writeReg(Reg.VMBMEM + 4, 0x0200_0000);
    device.writeReg(Reg.VMBMEM + 8, 0x0099_0000);
    device.writeReg(Reg.V2PMAILBOX, Mbx.REQ);
    for (let t = 0; t < 3; t++) device.tick();
    expect(device.readReg(Reg.VMBMEM) & MSGTYPE_ACK).toBe(0);
    expect(device.state.filters.mac).toBe(PF.adminMac);
  });
});

describe("RX", () => {
  const gen = new TrafficGenerator({ seed: 3, vfMac: PF.adminMac });

  it("writes data, then the DD|EOP write-back, then advances head; the guest reaps every seq once", () => {
    const { device, guest } = probed();
    const seen: number[] = [];
    guest.trace = { rxDelivered: (seq) => seen.push(seq) };
    const delivered: number[] = [];
    for (let seq = 0; seq < 40; seq++)
      if (device.receive(gen.packet(seq)) === "delivered") delivered.push(seq);
    guest.tick();
    expect(delivered.length).toBeGreaterThan(30);
    expect([...seen].sort((a, b) => a - b)).toEqual(delivered);
    expect(device.state.stats.gprc).toBe(delivered.length);
  });

  it("the queue is reta[toeplitz & 63] of the frame's 4-tuple, the same for every packet of a flow", () => {
    const { device } = probed();
    const byFlow = new Map<number, number>();
    for (let seq = 0; seq < 400; seq++) {
      const p = gen.packet(seq);
      const { queue } = device.classify(buildFrame(p));
      if (byFlow.has(p.flow)) expect(byFlow.get(p.flow)).toBe(queue);
      byFlow.set(p.flow, queue);
    }
    expect(new Set(byFlow.values()).size).toBe(2); // both queues get flows
  });

  it("no descriptor: counted in RQDPC, nothing written", () => {
    const { device, io } = rig();
    device.writeReg(Reg.MRQC, 0);
    const before = io.writes.length;
    const unicast = { ...gen.packet(1), dstMac: PF.adminMac, vlan: 0 };
    expect(device.receive(unicast)).toBe("no-desc");
    expect(device.state.rx[0].rqdpc).toBe(1);
    expect(io.writes.length).toBe(before);
  });

  it("filters: a VLAN the VF did not join and a group it left are refused", () => {
    const { device } = probed();
    const tagged = { ...gen.packet(0), vlan: 999 };
    expect(device.receive(tagged)).toBe("filtered");
    const group = { ...gen.packet(0), dstMac: 0x01005e7f0001 };
    expect(device.accepts(group)).toBe(false);
  });
});

describe("TX", () => {
  it("gathers a two-descriptor packet and sends it whole", () => {
    const { device, guest } = probed();
    const sent: Uint8Array[] = [];
    device.wire = { transmit: (b) => sent.push(b) };
    const before = device.state.stats.gptc;
    for (let t = 0; t < 5; t++) {
      guest.tick();
      device.tick();
    }
    expect(sent.length).toBeGreaterThan(10);
    for (const f of sent) expect(readMarker(f)?.length).toBe(f.byteLength);
    expect(device.state.stats.gptc - before).toBe(sent.length);
  });

  for (const policy of ["drop", "refetch"] as const) {
    it(`a packet caught half-gathered at the initiator suspend is never half-sent (${policy})`, () => {
      const { device, io } = probed(policy);
      const sent: number[] = [];
      device.wire = { transmit: (b) => sent.push(readMarker(b)!.seq) };
      const q = device.state.tx[0];
      const n = q.lenBytes / 16;
      for (let t = 0; t < 3; t++) device.tick(); // the guest is idle from here: drain what it posted
      expect(q.head).toBe(q.tail);
      const at = q.tail;
      const gen = new TrafficGenerator({ seed: 3, vfMac: PF.adminMac });
      const frame = buildFrame({ ...gen.packet(0), seq: 999_999, srcMac: PF.adminMac, vlan: 0 });
      const half = frame.byteLength >> 1;
      io.memory.set(frame.subarray(0, half), 0x180000);
      io.memory.set(frame.subarray(half), 0x181000);
      const desc = (i: number, addr: number, len: number, last: boolean) => {
        const dv = new DataView(io.memory.buffer, q.baseGpa + ((at + i) % n) * 16, 16);
        dv.setBigUint64(0, BigInt(addr), true);
        const cmd = len | (TxCmd.DTYP_DATA << TxCmd.DTYP_SHIFT) | TxCmd.DEXT | TxCmd.IFCS;
        dv.setUint32(8, (cmd | (last ? TxCmd.EOP | TxCmd.RS : 0)) >>> 0, true);
        dv.setUint32(12, 0, true);
      };
      desc(0, 0x180000, half, false);
      desc(1, 0x181000, frame.byteLength - half, true);
      // Only the first descriptor is visible: the device gathers it and waits for the EOP.
      device.writeReg(Reg.TDT0, (at + 1) % n);
      device.tick();
      expect(q.partial).toMatchObject({ firstDesc: at, descs: 1, policy: "gathering" });
      const outcomes: string[] = [];
      const skipped: number[] = [];
      device.trace = {
        txPartial: (_q, seq, o) => outcomes.push(`${seq}:${o}`),
        txSkipped: (_q, d) => skipped.push(d),
      };
      device.suspendInitiator();
      expect(outcomes).toEqual([`999999:${policy}`]);
      device.writeReg(Reg.TDT0, (at + 2) % n);
      device.tick(); // suspended: no fetch
      expect(q.head).toBe(policy === "drop" ? (at + 1) % n : at);
      device.resumeInitiator();
      device.tick();
      expect(q.head).toBe((at + 2) % n);
      expect(q.partial).toBeNull();
      if (policy === "drop") {
        expect(sent).not.toContain(999_999);
        expect(skipped).toEqual([at]);
      } else {
        expect(sent.filter((s) => s === 999_999)).toHaveLength(1);
      }
      // The EOP descriptor completed either way (DD), so the guest can reclaim it.
      const status = new DataView(
        io.memory.buffer,
        q.baseGpa + ((at + 1) % n) * 16 + 12,
        4,
      ).getUint32(0, true);
      expect(status & 1).toBe(1);
    });
  }
});

describe("interrupt moderation", () => {
  it("a cause inside the EITR window is delivered once when the window passes; masked causes wait", () => {
    const { device, io } = rig();
    device.writeReg(Reg.EITR0, 3);
    device.writeReg(Reg.EIAC, 0x7);
    device.writeReg(Reg.EIMS, 0x1);
    device.writeReg(Reg.EICS, 0x1);
    device.writeReg(Reg.EICS, 0x1);
    expect(io.msis).toEqual([0]);
    expect(device.state.irq.pending).toBe(1);
    device.tick();
    device.tick();
    expect(io.msis).toEqual([0]);
    device.tick();
    expect(io.msis).toEqual([0, 0]);
    device.tick();
    expect(io.msis).toEqual([0, 0]);
    device.writeReg(Reg.EICS, 0x2); // vector 1 masked
    expect(io.msis).toEqual([0, 0]);
    device.writeReg(Reg.EIMS, 0x2);
    expect(io.msis).toEqual([0, 0, 1]);
  });
});
