import "reflect-metadata";
import { createDeviceHarness, type DeviceHarness, reach } from "@mdevkit/conformance";
import { MigState } from "@mdevkit/core";
import { afterEach, describe, expect, it } from "vitest";
import { CTRL, encodeRecord, RECORD_BYTES, Reg, STATUS } from "../src/device.js";
import type { __PascalName__Driver } from "../src/driver.js";
import { GUEST_RING_BASE, GUEST_SCRATCH } from "../src/guest.js";
import { __camelName__Plugin } from "../src/plugin.js";

const RING = 0x20000;
let h: DeviceHarness<__PascalName__Driver>;

async function device(): Promise<DeviceHarness<__PascalName__Driver>> {
  h = await createDeviceHarness<__PascalName__Driver>(__camelName__Plugin, {
    deviceType: "__PLUGIN_NAME__-1",
    seed: 3,
    memoryBytes: 1 << 20,
  });
  return h;
}

function programRing(d: __PascalName__Driver, entries: number, ctrl: number): void {
  d.writeRegister(Reg.SCRATCH, 0xc0ffee);
  d.writeRegister(Reg.RING_BASE_LO, RING);
  d.writeRegister(Reg.RING_BASE_HI, 0);
  d.writeRegister(Reg.RING_ENTRIES, entries);
  d.writeRegister(Reg.CTRL, ctrl);
}

afterEach(() => h?.dispose());

describe("__PLUGIN_NAME__ device", () => {
  it("DMAs one record per tick into the ring and wraps", async () => {
    const { driver, memory } = await device();
    programRing(driver, 2, CTRL.ENABLE);
    driver.tick();
    driver.tick();
    driver.tick();
    expect(memory.read(RING, RECORD_BYTES)).toEqual(encodeRecord(3, 2, 0xc0ffee));
    expect(memory.read(RING + RECORD_BYTES, RECORD_BYTES)).toEqual(encodeRecord(3, 1, 0xc0ffee));
    expect(driver.readRegister(Reg.COUNTER)).toBe(3);
    expect(driver.readRegister(Reg.RING_HEAD)).toBe(1);
  });

  it("interrupts when asked and clears IRQ_PENDING on a write of 1", async () => {
    const { driver, irq } = await device();
    programRing(driver, 4, CTRL.ENABLE | CTRL.IRQ_ENABLE);
    driver.tick();
    expect(irq.raised(0)).toBe(1);
    expect(driver.readRegister(Reg.STATUS) & STATUS.IRQ_PENDING).not.toBe(0);
    driver.writeRegister(Reg.STATUS, STATUS.IRQ_PENDING);
    expect(driver.readRegister(Reg.STATUS)).toBe(0);
  });

  it("halts the ring on a DMA fault until the guest reprograms it", async () => {
    const { driver } = await device();
    driver.writeRegister(Reg.RING_BASE_HI, 1); // 4 GiB: not mapped
    driver.writeRegister(Reg.RING_ENTRIES, 4);
    driver.writeRegister(Reg.CTRL, CTRL.ENABLE);
    driver.tick();
    expect(driver.readRegister(Reg.STATUS) & STATUS.RING_FAULT).not.toBe(0);
    expect(driver.readRegister(Reg.COUNTER)).toBe(0);
    driver.writeRegister(Reg.RING_BASE_HI, 0);
    driver.writeRegister(Reg.RING_ENTRIES, 4);
    driver.tick();
    expect(driver.readRegister(Reg.STATUS) & STATUS.RING_FAULT).toBe(0);
    expect(driver.readRegister(Reg.COUNTER)).toBe(1);
  });

  it("found at power-on, is brought up as its guest driver would and DMAs from that tick", async () => {
    const { driver, memory } = await device();
    driver.tick();
    driver.tick();
    expect(driver.readRegister(Reg.COUNTER)).toBe(2);
    expect(memory.read(GUEST_RING_BASE + RECORD_BYTES, RECORD_BYTES)).toEqual(
      encodeRecord(3, 1, GUEST_SCRATCH),
    );
  });

  it("does nothing while stopped and refuses guest access", async () => {
    const { driver, trace } = await device();
    programRing(driver, 4, CTRL.ENABLE | CTRL.IRQ_ENABLE);
    await reach(driver, MigState.STOP);
    const before = trace.events.length;
    driver.tick();
    expect(trace.events.length).toBe(before);
    expect(() => driver.readRegister(Reg.COUNTER)).toThrow(/EBUSY/);
  });
});
