import { saveDevice } from "@mdevkit/conformance";
import { driveTransition, MigState } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { describeState, IER, Reg } from "../src/index.js";
import { exercise, makeDevice, openResuming, type TestDevice } from "./helpers.js";

/** A device whose every port would DMA and interrupt on any input. */
function armed(): TestDevice {
  const dev = makeDevice("mtty-2", 21);
  exercise(dev.driver, 0);
  dev.driver.writeRegister(1, Reg.IER, IER.RDI | IER.RLSI | IER.THRI);
  return dev;
}

/** Pokes the device the ways a workload and a guest would; all must be refused or ignored. */
function poke(dev: TestDevice): void {
  expect(dev.driver.tick(10)).toBe(0);
  expect(dev.driver.receive(0, new Uint8Array(64).fill(1))).toBe(0);
  expect(dev.driver.receive(1, new Uint8Array(64).fill(2))).toBe(0);
  for (const offset of [Reg.RBR_THR, Reg.IIR_FCR, Reg.LSR, Reg.RING_HEAD]) {
    expect(() => dev.driver.readRegister(0, offset)).toThrow(/EBUSY/);
  }
  expect(() => dev.driver.writeRegister(1, Reg.RBR_THR, 0x41)).toThrow(/EBUSY/);
  expect(() => dev.driver.writeRegister(1, Reg.IER, 0x0f)).toThrow(/EBUSY/);
}

async function expectQuiet(
  dev: TestDevice,
  reach: () => Promise<unknown>,
  state: MigState,
): Promise<void> {
  await reach();
  expect(dev.driver.getState()).toBe(state);
  const before = describeState(dev.driver);
  const writes = dev.dma.writes.length;
  const irqs = dev.irq.total;
  poke(dev);
  expect(dev.dma.writes.length).toBe(writes);
  expect(dev.irq.total).toBe(irqs);
  expect(describeState(dev.driver)).toEqual(before);
  expect(dev.driver.running).toBe(false);
}

describe("a stopped device does no DMA, raises no interrupt and changes no state", () => {
  it("in STOP", async () => {
    const dev = armed();
    await expectQuiet(dev, () => driveTransition(dev.driver, MigState.STOP), MigState.STOP);
  });

  it("in STOP_COPY after PRE_COPY, and in STOP after it", async () => {
    const dev = armed();
    const { stream } = await driveTransition(dev.driver, MigState.PRE_COPY);
    // PRE_COPY still runs.
    expect(dev.driver.tick(1)).toBeGreaterThan(0);
    await expectQuiet(
      dev,
      () => driveTransition(dev.driver, MigState.STOP_COPY),
      MigState.STOP_COPY,
    );
    await stream!.read(1 << 20);
    await expectQuiet(dev, () => driveTransition(dev.driver, MigState.STOP), MigState.STOP);
  });

  it("in RESUMING, and in STOP after loading, until started", async () => {
    const source = armed();
    const { precopy, stopCopy } = await saveDevice(source.driver);
    const target = makeDevice("mtty-2", 21);
    const stream = await openResuming(target.driver);
    await expectQuiet(target, async () => {}, MigState.RESUMING);
    await stream.write(new Uint8Array([...precopy, ...stopCopy]));
    await expectQuiet(target, () => driveTransition(target.driver, MigState.STOP), MigState.STOP);
    expect(target.dma.writes).toEqual([]);
    expect(target.irq.total).toBe(0);
    await driveTransition(target.driver, MigState.RUNNING);
    expect(target.driver.running).toBe(true);
    expect(target.driver.tick(1)).toBeGreaterThan(0);
    expect(target.dma.writes.length).toBeGreaterThan(0);
  });

  it("RUNNING_P2P keeps working (mtty does no peer-to-peer DMA)", async () => {
    const dev = armed();
    await driveTransition(dev.driver, MigState.RUNNING_P2P);
    const writes = dev.dma.writes.length;
    expect(dev.driver.tick(2)).toBeGreaterThan(0);
    expect(dev.dma.writes.length).toBeGreaterThan(writes);
  });

  it("the error names the state", async () => {
    const dev = armed();
    await driveTransition(dev.driver, MigState.STOP);
    expect(() => dev.driver.readRegister(0, Reg.SCR)).toThrow(
      "EBUSY: mtty register access while the device is STOP",
    );
    // Config space still answers while stopped.
    expect(dev.driver.configRead(0, 2)).toEqual(Uint8Array.of(0x48, 0x43));
  });
});
