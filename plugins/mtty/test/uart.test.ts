import { describe, expect, it } from "vitest";
import {
  describeState,
  FCR,
  IER,
  IIR,
  LCR_DLAB,
  LSR,
  MCR,
  mttyInvariants,
  Reg,
  wireByte,
} from "../src/index.js";
import { makeDevice } from "./helpers.js";

const bytes = (...b: number[]) => Uint8Array.from(b);

describe("16550 registers", () => {
  it("SCR is plain storage and LCR reads back", () => {
    const { driver } = makeDevice("mtty-1");
    driver.writeRegister(0, Reg.SCR, 0x5a);
    driver.writeRegister(0, Reg.LCR, 0x1b);
    expect(driver.readRegister(0, Reg.SCR)).toBe(0x5a);
    expect(driver.readRegister(0, Reg.LCR)).toBe(0x1b);
  });

  it("DLAB switches offsets 0/1 to the divisor latch without touching IER or the FIFO", () => {
    const { driver } = makeDevice("mtty-1");
    driver.writeRegister(0, Reg.IER, IER.RDI);
    driver.receive(0, bytes(0x61));
    driver.writeRegister(0, Reg.LCR, LCR_DLAB | 0x03);
    driver.writeRegister(0, Reg.RBR_THR, 0x34);
    driver.writeRegister(0, Reg.IER, 0x12);
    expect(driver.readRegister(0, Reg.RBR_THR)).toBe(0x34);
    expect(driver.readRegister(0, Reg.IER)).toBe(0x12);
    expect(driver.takeTransmitted(0)).toEqual(new Uint8Array(0));
    driver.writeRegister(0, Reg.LCR, 0x03);
    expect(driver.readRegister(0, Reg.IER)).toBe(IER.RDI);
    expect(driver.readRegister(0, Reg.RBR_THR)).toBe(0x61);
    expect(describeState(driver).ports[0]!.divisor).toBe(0x1234);
  });

  it("LSR.DR follows the FIFO and THRE/TEMT stay set (transmission is instantaneous)", () => {
    const { driver } = makeDevice("mtty-1");
    expect(driver.readRegister(0, Reg.LSR)).toBe(LSR.THRE | LSR.TEMT);
    driver.receive(0, bytes(0x41));
    expect(driver.readRegister(0, Reg.LSR) & LSR.DR).toBe(LSR.DR);
    expect(driver.readRegister(0, Reg.RBR_THR)).toBe(0x41);
    expect(driver.readRegister(0, Reg.LSR) & LSR.DR).toBe(0);
  });

  it("without FCR.ENABLE the FIFO holds one byte (16450 mode); the second overruns", () => {
    const { driver } = makeDevice("mtty-1");
    driver.receive(0, bytes(1, 2));
    expect(describeState(driver).ports[0]!.rxFifo).toEqual([1]);
    expect(driver.readRegister(0, Reg.LSR) & LSR.OE).toBe(LSR.OE);
    // Reading LSR cleared OE.
    expect(driver.readRegister(0, Reg.LSR) & LSR.OE).toBe(0);
  });

  it("with FIFOs enabled holds 16 bytes in order, drops the 17th and flags overrun", () => {
    const { driver } = makeDevice("mtty-1");
    driver.writeRegister(0, Reg.IIR_FCR, FCR.ENABLE);
    const input = Uint8Array.from({ length: 17 }, (_, i) => 0x30 + i);
    driver.receive(0, input);
    const lsr = driver.readRegister(0, Reg.LSR);
    expect(lsr & (LSR.DR | LSR.OE)).toBe(LSR.DR | LSR.OE);
    const out = Array.from({ length: 16 }, () => driver.readRegister(0, Reg.RBR_THR));
    expect(out).toEqual(Array.from(input.subarray(0, 16)));
    expect(driver.readRegister(0, Reg.LSR) & LSR.DR).toBe(0);
    expect(mttyInvariants(driver)).toEqual([]);
  });

  it("FCR.CLEAR_RX and toggling FCR.ENABLE empty the FIFO", () => {
    const { driver } = makeDevice("mtty-1");
    driver.writeRegister(0, Reg.IIR_FCR, FCR.ENABLE);
    driver.receive(0, bytes(1, 2, 3));
    driver.writeRegister(0, Reg.IIR_FCR, FCR.ENABLE | FCR.CLEAR_RX);
    expect(describeState(driver).ports[0]!.rxFifo).toEqual([]);
    driver.receive(0, bytes(4));
    driver.writeRegister(0, Reg.IIR_FCR, 0);
    expect(describeState(driver).ports[0]!.rxFifo).toEqual([]);
    expect(describeState(driver).ports[0]!.fcr).toBe(0);
  });
});

describe("interrupts are gated by IER", () => {
  it("received data interrupts only with IER.RDI, at the FCR trigger level", () => {
    const { driver, irq } = makeDevice("mtty-1");
    driver.writeRegister(0, Reg.IIR_FCR, FCR.ENABLE | 0x40); // trigger level 4
    driver.receive(0, bytes(1, 2, 3, 4, 5));
    expect(irq.total).toBe(0);
    driver.writeRegister(0, Reg.IIR_FCR, FCR.ENABLE | FCR.CLEAR_RX | 0x40);
    driver.writeRegister(0, Reg.IER, IER.RDI);
    driver.receive(0, bytes(1, 2, 3));
    expect(irq.total).toBe(0);
    expect(driver.readRegister(0, Reg.IIR_FCR)).toBe(IIR.NONE | IIR.FIFO_ON);
    driver.receive(0, bytes(4));
    expect(irq.raised[0]).toBe(1);
    expect(driver.readRegister(0, Reg.IIR_FCR)).toBe(IIR.RDA | IIR.FIFO_ON);
  });

  it("overrun interrupts once per overrun with IER.RLSI and IIR reports it first", () => {
    const { driver, irq } = makeDevice("mtty-1");
    driver.writeRegister(0, Reg.IER, IER.RLSI | IER.RDI);
    driver.receive(0, bytes(1)); // RDA at trigger level 1
    driver.receive(0, bytes(2, 3, 4)); // overrun edge: one interrupt
    expect(irq.total).toBe(2);
    expect(driver.readRegister(0, Reg.IIR_FCR)).toBe(IIR.RLS);
    driver.readRegister(0, Reg.LSR);
    expect(driver.readRegister(0, Reg.IIR_FCR)).toBe(IIR.RDA);
  });

  it("THR empty interrupts on enabling IER.THRI and after each transmit; reading IIR acknowledges", () => {
    const { driver, irq } = makeDevice("mtty-1");
    driver.writeRegister(0, Reg.IER, IER.THRI);
    expect(irq.total).toBe(1);
    expect(driver.readRegister(0, Reg.IIR_FCR)).toBe(IIR.THRE);
    expect(driver.readRegister(0, Reg.IIR_FCR)).toBe(IIR.NONE);
    driver.writeRegister(0, Reg.RBR_THR, 0x68);
    driver.writeRegister(0, Reg.RBR_THR, 0x69);
    expect(irq.total).toBe(3);
    expect(driver.takeTransmitted(0)).toEqual(bytes(0x68, 0x69));
    expect(driver.takeTransmitted(0)).toEqual(new Uint8Array(0));
  });

  it("with no interrupt line wired nothing is raised, but the device still works", () => {
    const { driver, irq } = makeDevice("mtty-1", 42, {}, 0);
    driver.writeRegister(0, Reg.IER, IER.RDI);
    driver.receive(0, bytes(9));
    expect(irq.raised).toEqual([]);
    expect(driver.readRegister(0, Reg.IIR_FCR)).toBe(IIR.RDA);
  });
});

describe("loopback and modem status", () => {
  it("MCR.LOOP routes THR into the receiver and MSR mirrors MCR outputs", () => {
    const { driver } = makeDevice("mtty-1");
    expect(driver.readRegister(0, Reg.MSR)).toBe(0xb0);
    driver.writeRegister(0, Reg.MCR, MCR.LOOP | MCR.RTS | MCR.OUT2);
    expect(driver.readRegister(0, Reg.MSR)).toBe(0x10 | 0x80);
    driver.writeRegister(0, Reg.RBR_THR, 0x7a);
    expect(driver.takeTransmitted(0)).toEqual(new Uint8Array(0));
    expect(driver.readRegister(0, Reg.RBR_THR)).toBe(0x7a);
  });
});

describe("DMA ring (mdevkit extension)", () => {
  it("writes received bytes into guest memory, wraps, advances RING_HEAD and interrupts per batch", () => {
    const { driver, dma, irq } = makeDevice("mtty-1");
    driver.writeRegister(0, Reg.RING_BASE_LO, 0x2000);
    driver.writeRegister(0, Reg.RING_SIZE, 8);
    driver.writeRegister(0, Reg.IER, IER.RDI);
    driver.receive(0, bytes(1, 2, 3, 4, 5, 6));
    driver.receive(0, bytes(7, 8, 9, 10));
    expect(Array.from(dma.memory.subarray(0x2000, 0x2008))).toEqual([9, 10, 3, 4, 5, 6, 7, 8]);
    expect(driver.readRegister(0, Reg.RING_HEAD)).toBe(2);
    expect(irq.total).toBe(2);
    expect(dma.writes).toEqual([
      { iova: 0x2000, length: 6 },
      { iova: 0x2006, length: 2 },
      { iova: 0x2000, length: 2 },
    ]);
    // The FIFO is bypassed while the ring is armed.
    expect(driver.readRegister(0, Reg.LSR) & LSR.DR).toBe(0);
  });

  it("an IOMMU fault halts the ring (RING_SIZE bit 31) instead of throwing; re-arming clears it", () => {
    const { driver, dma, irq } = makeDevice("mtty-1");
    driver.writeRegister(0, Reg.IER, IER.RLSI | IER.RDI);
    driver.writeRegister(0, Reg.RING_BASE_HI, 1); // 4 GiB: unmapped in the fake IOMMU
    driver.writeRegister(0, Reg.RING_SIZE, 64);
    expect(driver.receive(0, bytes(1, 2))).toBe(2);
    expect(driver.readRegister(0, Reg.RING_SIZE)).toBe((0x8000_0000 | 64) >>> 0);
    expect(irq.total).toBe(1);
    expect(() => driver.tick(5)).not.toThrow();
    expect(dma.writes).toEqual([]);
    expect(describeState(driver).ports[0]!.ring).toMatchObject({ fault: true, head: 0 });
    driver.writeRegister(0, Reg.RING_BASE_HI, 0);
    driver.writeRegister(0, Reg.RING_SIZE, 64);
    driver.receive(0, bytes(3));
    expect(driver.readRegister(0, Reg.RING_SIZE)).toBe(64);
    expect(dma.memory[0]).toBe(3);
    expect(mttyInvariants(driver)).toEqual([]);
  });

  it("RING_BASE takes 53 bits; RING_SIZE is clamped to 1 MiB and re-arms the head", () => {
    const { driver } = makeDevice("mtty-1");
    driver.writeRegister(0, Reg.RING_BASE_HI, 0xffffffff);
    driver.writeRegister(0, Reg.RING_BASE_LO, 0x1000);
    expect(describeState(driver).ports[0]!.ring.base).toBe(0x1fffff * 2 ** 32 + 0x1000);
    expect(driver.readRegister(0, Reg.RING_BASE_HI)).toBe(0x1fffff);
    driver.writeRegister(0, Reg.RING_SIZE, 0xffffffff);
    expect(driver.readRegister(0, Reg.RING_SIZE)).toBe(1 << 20);
    driver.writeRegister(0, Reg.RING_HEAD, 5); // read-only
    expect(driver.readRegister(0, Reg.RING_HEAD)).toBe(0);
  });

  it("the workload is deterministic in the seed and lands in the ring", () => {
    const a = makeDevice("mtty-1", 7);
    const b = makeDevice("mtty-1", 7);
    for (const { driver } of [a, b]) {
      driver.writeRegister(0, Reg.RING_SIZE, 4096);
      driver.tick(50);
    }
    // Buffer.equals: vitest's deep equality walks 4 MiB element by element.
    expect(Buffer.from(a.dma.memory).equals(b.dma.memory)).toBe(true);
    const seq = describeState(a.driver).ports[0]!.wireSeq;
    expect(seq).toBeGreaterThanOrEqual(50);
    expect(Array.from(a.dma.memory.subarray(0, seq))).toEqual(
      Array.from({ length: seq }, (_, k) => wireByte(7, 0, k)),
    );
    const c = makeDevice("mtty-1", 8);
    c.driver.writeRegister(0, Reg.RING_SIZE, 4096);
    c.driver.tick(50);
    expect(Buffer.from(c.dma.memory).equals(a.dma.memory)).toBe(false);
  });
});

describe("argument checks", () => {
  it("refuses a missing port, an offset outside the window and a non-u32 value", () => {
    const { driver } = makeDevice("mtty-2");
    expect(() => driver.readRegister(2, 0)).toThrow(/port 2 does not exist/);
    expect(() => driver.readRegister(0, 0x20)).toThrow(/outside the 32-byte port window/);
    expect(() => driver.writeRegister(0, 0, -1)).toThrow(/not a 32-bit unsigned integer/);
    expect(() => driver.receive(-1, bytes(1))).toThrow(/EINVAL/);
    expect(() => driver.tick(-1)).toThrow(/EINVAL/);
  });

  it("unimplemented offsets read 0xff and ignore writes", () => {
    const { driver } = makeDevice("mtty-1");
    const before = describeState(driver);
    driver.writeRegister(0, 0x0a, 0x12);
    driver.writeRegister(0, Reg.LSR, 0xff);
    driver.writeRegister(0, Reg.MSR, 0xff);
    expect(driver.readRegister(0, 0x0a)).toBe(0xff);
    expect(describeState(driver)).toEqual(before);
  });
});
