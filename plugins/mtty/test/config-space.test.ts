import { saveDevice } from "@mdevkit/conformance";
import { driveTransition, MigState } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { Cfg, MTTY_DEVICE_ID, MTTY_VENDOR_ID } from "../src/index.js";
import { makeDevice } from "./helpers.js";

const le32 = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
const le16 = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset).getUint16(0, true);
const u32 = (value: number) => {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0, true);
  return out;
};

describe("PCI config space", () => {
  it("identifies as mtty's serial controller", () => {
    const { driver } = makeDevice("mtty-1");
    expect(driver.configSpaceSize).toBe(256);
    expect(le16(driver.configRead(Cfg.VENDOR_ID, 2))).toBe(MTTY_VENDOR_ID);
    expect(le16(driver.configRead(Cfg.DEVICE_ID, 2))).toBe(MTTY_DEVICE_ID);
    expect(Array.from(driver.configRead(Cfg.CLASS_PROG_IF, 3))).toEqual([0x02, 0x00, 0x07]);
    expect(driver.configRead(Cfg.INTERRUPT_PIN, 1)[0]).toBe(1);
    expect(le32(driver.configRead(Cfg.BAR0, 4))).toBe(0x1);
  });

  for (const [type, size] of [
    ["mtty-1", 0x20],
    ["mtty-2", 0x40],
    ["mtty-4", 0x80],
  ] as const) {
    it(`${type}: BAR0 is an I/O BAR of ${size} bytes (all-ones write reads back the size mask)`, () => {
      const { driver } = makeDevice(type);
      driver.configWrite(Cfg.BAR0, u32(0xffffffff));
      const mask = le32(driver.configRead(Cfg.BAR0, 4));
      expect(mask).toBe((~(size - 1) | 0x1) >>> 0);
      expect((~(mask & ~0x3) + 1) >>> 0).toBe(size);
      // Programming an address keeps the I/O bit and drops the bits below the size.
      driver.configWrite(Cfg.BAR0, u32(0xc000 | (size - 1)));
      expect(le32(driver.configRead(Cfg.BAR0, 4))).toBe(0xc001);
    });
  }

  it("unimplemented BARs size to zero; IDs and the interrupt pin are read-only", () => {
    const { driver } = makeDevice("mtty-2");
    for (let bar = 1; bar < 6; bar++) {
      driver.configWrite(Cfg.BAR0 + 4 * bar, u32(0xffffffff));
      expect(le32(driver.configRead(Cfg.BAR0 + 4 * bar, 4))).toBe(0);
    }
    driver.configWrite(0, u32(0xdeadbeef));
    driver.configWrite(Cfg.INTERRUPT_PIN, Uint8Array.of(4));
    expect(le16(driver.configRead(Cfg.VENDOR_ID, 2))).toBe(MTTY_VENDOR_ID);
    expect(driver.configRead(Cfg.INTERRUPT_PIN, 1)[0]).toBe(1);
    driver.configWrite(Cfg.INTERRUPT_LINE, Uint8Array.of(11));
    expect(driver.configRead(Cfg.INTERRUPT_LINE, 1)[0]).toBe(11);
    driver.configWrite(Cfg.COMMAND, Uint8Array.of(0xff, 0xff));
    expect(le16(driver.configRead(Cfg.COMMAND, 2))).toBe(0x0407);
  });

  it("accepts byte-wise writes at any alignment, and refuses accesses past 256 bytes", () => {
    const { driver } = makeDevice("mtty-1");
    for (const [i, b] of [0x00, 0xe0, 0x00, 0x00].entries())
      driver.configWrite(Cfg.BAR0 + i, Uint8Array.of(b));
    expect(le32(driver.configRead(Cfg.BAR0, 4))).toBe(0xe001);
    expect(() => driver.configRead(250, 8)).toThrow(/EINVAL/);
    expect(() => driver.configWrite(256, Uint8Array.of(0))).toThrow(/EINVAL/);
  });

  it("is not in the device stream: the VMM restores it on the target, even while RESUMING", async () => {
    const source = makeDevice("mtty-2");
    source.driver.configWrite(Cfg.BAR0, u32(0xd000));
    source.driver.configWrite(Cfg.INTERRUPT_LINE, Uint8Array.of(10));
    const saved = source.driver.configRead(0, 256);
    const { precopy, stopCopy } = await saveDevice(source.driver);
    expect(precopy.byteLength + stopCopy.byteLength).toBeLessThan(256);

    const target = makeDevice("mtty-2");
    const { stream } = await driveTransition(target.driver, MigState.RESUMING);
    target.driver.configWrite(0, saved); // what a VMM does with its saved copy
    await stream!.write(new Uint8Array([...precopy, ...stopCopy]));
    await driveTransition(target.driver, MigState.STOP);
    expect(target.driver.configRead(0, 256)).toEqual(saved);
  });
});
