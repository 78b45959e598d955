import { crc32 } from "node:zlib";
import { saveDevice, writeChunks } from "@mdevkit/conformance";
import { driveTransition, MigState } from "@mdevkit/core";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { describeState, HEADER_BYTES, PORT_BYTES, streamBytes } from "../src/index.js";
import { errorOf, exercise, makeDevice, openResuming, type TestDevice } from "./helpers.js";

let image: Uint8Array;

beforeAll(async () => {
  const source = makeDevice("mtty-2", 3);
  exercise(source.driver, 0);
  const { precopy, stopCopy } = await saveDevice(source.driver);
  image = new Uint8Array([...precopy, ...stopCopy]);
});

/** A target with state of its own, so "untouched" means something. */
function busyTarget(type = "mtty-2"): TestDevice {
  const target = makeDevice(type, 11);
  exercise(target.driver, 1);
  return target;
}

function withCrcFixed(bytes: Uint8Array, port: number): Uint8Array {
  const block = bytes.subarray(
    HEADER_BYTES + port * PORT_BYTES,
    HEADER_BYTES + (port + 1) * PORT_BYTES,
  );
  new DataView(block.buffer, block.byteOffset).setUint32(48, crc32(block.subarray(0, 48)), true);
  return bytes;
}

/** Expects the stream to be refused at RESUMING → STOP with the target untouched. */
async function expectRefusedAtStop(
  bytes: Uint8Array,
  pattern: RegExp,
  type = "mtty-2",
): Promise<void> {
  const target = busyTarget(type);
  const before = describeState(target.driver);
  const stream = await openResuming(target.driver);
  await stream.write(bytes);
  const err = await errorOf(driveTransition(target.driver, MigState.STOP));
  expect(err.code).toBe("EINVAL");
  expect(err.message).toMatch(pattern);
  expect(target.driver.getState()).toBe(MigState.RESUMING);
  expect(describeState(target.driver)).toEqual(before);
}

describe("the header is checked as soon as 24 bytes arrive", () => {
  const cases: [string, number, number, RegExp][] = [
    ["magic", 0, 0x01, /field magic is 0x/],
    ["major version", 8, 0x02, /field version is 3\.0/],
    ["minor version", 12, 0x01, /field version is 1\.1/],
    ["port count", 16, 0x03, /field nrPorts is 1, this device has 2/],
    ["flags", 20, 0x10, /field flags is 0x10/],
  ];
  for (const [name, offset, xor, pattern] of cases) {
    it(`a bad ${name} fails the write that completes the header`, async () => {
      const bad = image.slice();
      bad[offset]! ^= xor;
      const target = busyTarget();
      const before = describeState(target.driver);
      const stream = await openResuming(target.driver);
      // One byte at a time: the first 23 are accepted, the 24th is refused.
      await writeChunks(stream, bad.subarray(0, HEADER_BYTES - 1), [1]);
      const err = await errorOf(stream.write(bad.subarray(HEADER_BYTES - 1, HEADER_BYTES)));
      expect(err.code).toBe("EINVAL");
      expect(err.message).toMatch(pattern);
      // And the transition out refuses it too, leaving the device as it was.
      await expect(driveTransition(target.driver, MigState.STOP)).rejects.toThrow(pattern);
      expect(describeState(target.driver)).toEqual(before);
    });
  }

  it("a stream from a 4-port device is refused by a 2-port one at byte 24", async () => {
    const source = makeDevice("mtty-4");
    const { precopy } = await saveDevice(source.driver);
    const target = busyTarget();
    const stream = await openResuming(target.driver);
    await expect(stream.write(precopy)).rejects.toThrow(/nrPorts is 4, this device has 2/);
  });

  it("bytes beyond a full image are refused with E2BIG", async () => {
    const target = busyTarget();
    const stream = await openResuming(target.driver);
    await stream.write(image);
    const err = await errorOf(stream.write(Uint8Array.of(0)));
    expect(err.code).toBe("E2BIG");
  });
});

describe("a damaged image is refused at RESUMING → STOP, all or nothing", () => {
  it("every truncation is refused, naming the length; completing it later loads", async () => {
    for (const length of [
      0,
      1,
      HEADER_BYTES - 1,
      HEADER_BYTES,
      HEADER_BYTES + PORT_BYTES,
      image.byteLength - 1,
    ]) {
      await expectRefusedAtStop(image.subarray(0, length), /stream is \d+ bytes, a 2-port device/);
    }
    const target = busyTarget();
    const stream = await openResuming(target.driver);
    await stream.write(image.subarray(0, 50));
    await expect(driveTransition(target.driver, MigState.STOP)).rejects.toThrow(
      `stream is 50 bytes, a 2-port device needs exactly ${streamBytes(2)}`,
    );
    await stream.write(image.subarray(50));
    await driveTransition(target.driver, MigState.STOP);
    expect(target.driver.getState()).toBe(MigState.STOP);
  });

  it("any single flipped bit in a port block is caught (property)", async () => {
    const portBits = (image.byteLength - HEADER_BYTES) * 8;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: portBits - 1 }), async (bit) => {
        const bad = image.slice();
        bad[HEADER_BYTES + (bit >>> 3)]! ^= 1 << (bit & 7);
        await expectRefusedAtStop(bad, /port \d field /);
      }),
      { numRuns: 200 },
    );
  });

  it("a corrupted block names the CRC", async () => {
    const bad = image.slice();
    bad[HEADER_BYTES + 12]! ^= 0x80; // a FIFO byte: no range check could catch it
    await expectRefusedAtStop(bad, /port 0 field crc32 is 0x[0-9a-f]+, computed/);
  });

  // Values that carry a valid CRC but break the device's rules: the decoder checks ranges too.
  const forged: [string, number, (v: DataView) => void, RegExp][] = [
    ["ier", 0, (v) => v.setUint8(0, 0x1f), /port 1 field ier is 31/],
    ["mcr", 0, (v) => v.setUint8(2, 0x20), /port 1 field mcr is 32/],
    ["fcr", 0, (v) => v.setUint8(4, 0x83), /port 1 field fcr is 131/],
    ["status", 0, (v) => v.setUint8(5, 0x08), /port 1 field status is 8/],
    [
      "rxCount over 16",
      0,
      (v) => {
        v.setUint8(4, 0x01);
        v.setUint8(8, 17);
      },
      /port 1 field rxCount is 17, at most 16/,
    ],
    [
      "rxCount over the 16450-mode capacity",
      0,
      (v) => {
        v.setUint8(4, 0x00);
        v.setUint8(8, 2);
      },
      /port 1 field rxCount is 2, at most 1/,
    ],
    ["rxHead", 0, (v) => v.setUint8(9, 16), /port 1 field rxHead is 16/],
    ["reserved", 0, (v) => v.setUint16(10, 1, true), /port 1 field reserved is 1/],
    [
      "ringSize",
      0,
      (v) => v.setUint32(40, (1 << 20) + 1, true),
      /port 1 field ringSize is 1048577/,
    ],
    [
      "ringHead past the ring",
      0,
      (v) => {
        v.setUint32(40, 64, true);
        v.setUint32(44, 64, true);
      },
      /port 1 field ringHead is 64, must be below ringSize 64/,
    ],
    [
      "ringHead with the ring off",
      0,
      (v) => {
        v.setUint32(40, 0, true);
        v.setUint32(44, 3, true);
      },
      /port 1 field ringHead is 3, must be 0 while the ring is off/,
    ],
    [
      "ringBase",
      0,
      (v) => v.setBigUint64(32, 1n << 53n, true),
      /port 1 field ringBase is 0x20000000000000/,
    ],
  ];
  for (const [name, , edit, pattern] of forged) {
    it(`refuses a forged ${name}`, async () => {
      const bad = image.slice();
      const block = bad.subarray(HEADER_BYTES + PORT_BYTES, HEADER_BYTES + 2 * PORT_BYTES);
      edit(new DataView(block.buffer, block.byteOffset, PORT_BYTES));
      await expectRefusedAtStop(withCrcFixed(bad, 1), pattern);
    });
  }
});
