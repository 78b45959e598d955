import { describe, expect, it } from "vitest";
import { DmaFaultError } from "../../src/errors/index.js";
import {
  DirtyOracle,
  DmaPort,
  type DmaWriteObserver,
  GuestMemory,
  Iommu,
  PAGE_SIZE,
} from "../../src/memory/index.js";

const P = PAGE_SIZE;

function setup() {
  const memory = GuestMemory.create({ size: 64 * P, segmentSize: 16 * P });
  const iommu = new Iommu({ guestSize: memory.size });
  // Two IOVA-adjacent mappings whose guest pages are far apart, then a read-only one.
  iommu.map({ iova: 0x10000, gpa: 10 * P, length: 2 * P });
  iommu.map({ iova: 0x12000, gpa: 40 * P, length: 2 * P });
  iommu.map({ iova: 0x20000, gpa: 50 * P, length: P, write: false });
  iommu.map({ iova: 0x30000, gpa: 52 * P, length: P, read: false });
  const port = new DmaPort(iommu, memory);
  return { memory, iommu, port };
}

function faultOf(fn: () => unknown): DmaFaultError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DmaFaultError) return err;
    throw err;
  }
  throw new Error("no fault");
}

describe("DmaPort", () => {
  it("writes through the IOMMU into guest RAM, across mappings", () => {
    const { memory, port } = setup();
    const data = Uint8Array.from({ length: 3 * P }, (_, i) => (i * 7) & 0xff);
    port.write(0x10000 + P / 2, data); // pages 10, 11 then 40, 41
    expect(memory.read(10 * P + P / 2, 2 * P - P / 2)).toEqual(data.subarray(0, 2 * P - P / 2));
    expect(memory.read(40 * P, P + P / 2)).toEqual(data.subarray(2 * P - P / 2));
    expect(port.read(0x10000 + P / 2, 3 * P)).toEqual(data);
  });

  it("does not mark the CPU dirty log", () => {
    const { memory, port } = setup();
    port.write(0x10000, new Uint8Array(4 * P).fill(1));
    expect(memory.dirtyLog.isEmpty()).toBe(true);
  });

  it("faults on unmapped IOVAs without writing anything", () => {
    const { memory, port } = setup();
    const fault = faultOf(() => port.write(0x13000, new Uint8Array(2 * P).fill(9)));
    expect(fault.code).toBe("EFAULT");
    expect(fault.errno).toBe(14);
    expect(fault).toMatchObject({
      iova: 0x13000,
      length: 2 * P,
      reason: "unmapped",
      faultIova: 0x14000,
    });
    expect(memory.isZeroPage(41)).toBe(true); // the mapped half was not written either
    expect(faultOf(() => port.read(0x0, 1)).reason).toBe("unmapped");
  });

  it("faults on read-only and write-only mappings", () => {
    const { port } = setup();
    expect(faultOf(() => port.write(0x20000, new Uint8Array(1))).reason).toBe("read-only");
    expect(port.read(0x20000, 8)).toEqual(new Uint8Array(8));
    expect(faultOf(() => port.read(0x30000, 1)).reason).toBe("write-only");
    port.write(0x30000, new Uint8Array(1));
  });

  it("bounds lengths and addresses", () => {
    const { memory, iommu } = setup();
    const port = new DmaPort(iommu, memory, { maxTransfer: P });
    expect(() => port.read(0x10000, P + 1)).toThrow(/EINVAL/);
    expect(() => port.read(0x10000, -1)).toThrow(/EINVAL/);
    expect(faultOf(() => port.read(-P, 1)).reason).toBe("out-of-bounds");
    expect(faultOf(() => port.read(Number.MAX_SAFE_INTEGER, 2)).reason).toBe("out-of-bounds");
    expect(() => new DmaPort(new Iommu({ guestSize: P }), memory)).toThrow(/differs/);
    expect(port.read(0x10000, 0)).toEqual(new Uint8Array(0));
  });

  it("notifies observers of each written piece, and detaches them", () => {
    const { port } = setup();
    const seen: [number, number, number][] = [];
    const spy: DmaWriteObserver = {
      onDmaWrite: (iova, gpa, length) => seen.push([iova, gpa, length]),
    };
    const detach = port.attach(spy);
    const oracle = new DirtyOracle(64);
    port.attach(oracle);
    port.write(0x11000 + 10, new Uint8Array(P));
    expect(seen).toEqual([
      [0x11000 + 10, 11 * P + 10, P - 10],
      [0x12000, 40 * P, 10],
    ]);
    expect(oracle.truth.toPageList()).toEqual([11, 40]);
    detach();
    port.write(0x10000, new Uint8Array(1));
    expect(seen).toHaveLength(2);
    expect(oracle.truth.toPageList()).toEqual([10, 11, 40]);
    // A faulting write notifies nobody.
    expect(() => port.write(0x13000, new Uint8Array(2 * P))).toThrow(DmaFaultError);
    expect(oracle.truth.toPageList()).toEqual([10, 11, 40]);
  });
});
