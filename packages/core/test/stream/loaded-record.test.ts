// LOADED carries each device's load time (slot u16, reserved u16, loadUs u64) so the
// source's downtime breakdown includes the target's part; its bounds are checked on both ends.
import { crc32c } from "@node-rs/crc32";
import { describe, expect, it } from "vitest";
import {
  type DeviceLoadTime,
  ReturnPathDecoder,
  ReturnPathEncoder,
  type ReturnRecord,
} from "../../src/index.js";

const DIGEST = new Uint8Array(32).fill(1);

/** Header, ACCEPT, then a LOADED frame with `payload` (framed by hand, CRC included). */
function withLoadedPayload(payload: Uint8Array): Uint8Array {
  const enc = new ReturnPathEncoder();
  const head = enc.start(DIGEST);
  const accept = enc.message({ type: "ACCEPT" });
  const frame = new Uint8Array(12 + payload.byteLength + 4);
  const v = new DataView(frame.buffer);
  v.setUint16(0, 0x84, true);
  v.setUint32(4, 1, true);
  v.setUint32(8, payload.byteLength, true);
  frame.set(payload, 12);
  v.setUint32(
    12 + payload.byteLength,
    crc32c(Buffer.from(frame.subarray(0, 12 + payload.byteLength))),
    true,
  );
  return Buffer.concat([head, accept, frame]);
}

/** A LOADED payload: count, then per entry slot, reserved, loadUs. */
function payload(count: number, entries: readonly [number, number, number][]): Uint8Array {
  const b = Buffer.alloc(2 + entries.length * 12);
  b.writeUInt16LE(count, 0);
  entries.forEach(([slot, reserved, us], i) => {
    b.writeUInt16LE(slot, 2 + i * 12);
    b.writeUInt16LE(reserved, 4 + i * 12);
    b.writeBigUInt64LE(BigInt(us), 6 + i * 12);
  });
  return b;
}

/** Decodes as the source does once it sent END (LOADED may come then). */
function decodeAll(bytes: Uint8Array): ReturnRecord[] {
  const decoder = new ReturnPathDecoder();
  decoder.forwardEnded();
  return [...decoder.push(bytes)];
}

function roundTrip(devices: readonly DeviceLoadTime[]): ReturnRecord[] {
  const enc = new ReturnPathEncoder();
  return decodeAll(
    Buffer.concat([
      enc.start(DIGEST),
      enc.message({ type: "ACCEPT" }),
      enc.message({ type: "LOADED", devices }),
    ]),
  );
}

describe("LOADED record", () => {
  it("carries every device's load time across the return path", () => {
    const devices = [
      { slot: 0, loadUs: 412 },
      { slot: 3, loadUs: 2 ** 40 },
    ];
    expect(roundTrip(devices)[1]).toMatchObject({ type: "LOADED", devices });
  });

  it("may list no device (a VM without devices)", () => {
    expect(roundTrip([])[1]).toMatchObject({ type: "LOADED", devices: [] });
  });

  it("decodes a hand-framed payload the same way", () => {
    const r = decodeAll(withLoadedPayload(payload(1, [[2, 0, 77]])));
    expect(r[1]).toMatchObject({ devices: [{ slot: 2, loadUs: 77 }] });
  });

  it("refuses more devices than the limit before reading them (E2BIG)", () => {
    expect(() => decodeAll(withLoadedPayload(payload(65, [])))).toThrow(
      expect.objectContaining({ code: "E2BIG" }),
    );
  });

  it("refuses a count that disagrees with the payload length (EBADMSG)", () => {
    expect(() => decodeAll(withLoadedPayload(payload(2, [[0, 0, 1]])))).toThrow(
      expect.objectContaining({ code: "EBADMSG", rule: "count-length" }),
    );
  });

  it("refuses a slot listed twice or out of order (EPROTO)", () => {
    const p = payload(2, [
      [1, 0, 5],
      [1, 0, 6],
    ]);
    expect(() => decodeAll(withLoadedPayload(p))).toThrow(
      expect.objectContaining({ code: "EPROTO", rule: "slot-order" }),
    );
  });

  it("refuses a non-zero reserved field (EPROTO)", () => {
    expect(() => decodeAll(withLoadedPayload(payload(1, [[0, 1, 5]])))).toThrow(
      expect.objectContaining({ code: "EPROTO", rule: "reserved" }),
    );
  });

  it("refuses a load time above 2^53 (E2BIG)", () => {
    const p = payload(1, [[0, 0, 0]]);
    Buffer.from(p.buffer).writeBigUInt64LE(2n ** 60n, 6);
    expect(() => decodeAll(withLoadedPayload(p))).toThrow(
      expect.objectContaining({ code: "E2BIG" }),
    );
  });

  it("is refused by the encoder (EINVAL) when slots do not increase or a time is not a whole µs", () => {
    const enc = new ReturnPathEncoder();
    enc.start(DIGEST);
    enc.message({ type: "ACCEPT" });
    expect(() =>
      enc.message({
        type: "LOADED",
        devices: [
          { slot: 2, loadUs: 1 },
          { slot: 1, loadUs: 1 },
        ],
      }),
    ).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => enc.message({ type: "LOADED", devices: [{ slot: 0, loadUs: 0.5 }] })).toThrow(
      expect.objectContaining({ code: "EINVAL" }),
    );
  });
});
