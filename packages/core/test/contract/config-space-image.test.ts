import { describe, expect, it } from "vitest";
import {
  ConfigSpaceBuilder,
  type ConfigSpaceImage,
  type DeviceContext,
  PCI_CFG,
} from "../../src/index.js";
import { BareDriver } from "../helpers/bare-driver.js";
import { inertContext } from "../helpers/toy-driver.js";

class Card extends BareDriver {
  constructor(ctx: DeviceContext, configSpace?: ConfigSpaceImage) {
    super(ctx, { maxStateBytes: 8, ...(configSpace ? { configSpace } : {}) });
  }
}

const image = new ConfigSpaceBuilder(4096)
  .set(PCI_CFG.VENDOR_ID, 0x8086, 2)
  .set(PCI_CFG.BAR0, 0x4, 4) // 64-bit memory BAR flags
  .writable(PCI_CFG.COMMAND, 0x0406, 2)
  .writable(PCI_CFG.BAR0, ~(0x10000 - 1) >>> 0, 4)
  .build();

describe("config space image", () => {
  it("starts the device with the image's contents and size", () => {
    const card = new Card(inertContext(), image);
    expect(card.configSpaceSize).toBe(4096);
    expect(card.configRead(PCI_CFG.VENDOR_ID, 2)).toEqual(Uint8Array.of(0x86, 0x80));
  });

  it("writes go through the mask: read-only bits keep their value, BAR sizing reads the size", () => {
    const card = new Card(inertContext(), image);
    card.configWrite(PCI_CFG.VENDOR_ID, Uint8Array.of(0xff, 0xff));
    expect(card.configRead(PCI_CFG.VENDOR_ID, 2)).toEqual(Uint8Array.of(0x86, 0x80));
    card.configWrite(PCI_CFG.BAR0, Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    const bar = new DataView(card.configRead(PCI_CFG.BAR0, 4).buffer).getUint32(0, true);
    expect(bar).toBe(0xffff0004);
    card.configWrite(PCI_CFG.COMMAND, Uint8Array.of(0xff));
    expect(card.configRead(PCI_CFG.COMMAND, 1)).toEqual(Uint8Array.of(0x06));
  });

  it("without an image every byte is writable (the VMM's restore lands as written)", () => {
    const card = new Card(inertContext());
    card.configWrite(0, Uint8Array.of(1, 2, 3));
    expect(card.configRead(0, 3)).toEqual(Uint8Array.of(1, 2, 3));
  });

  it("a builder refuses a field outside the space", () => {
    expect(() => new ConfigSpaceBuilder(256).set(255, 0, 2)).toThrow(/EINVAL/);
  });
});
