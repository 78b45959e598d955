// ITERATION_ACK (format version 3): the target applied every record up to an ITERATION.
// Version 2 peers never see it, and its bounds and order are checked on both ends.
import { describe, expect, it } from "vitest";
import {
  decodeStreamHeader,
  encodeStreamHeader,
  FORMAT_VERSION,
  frameRecord,
  ReturnPathDecoder,
  ReturnPathEncoder,
  type ReturnRecord,
  StreamDirection,
} from "../../src/index.js";

const DIGEST = new Uint8Array(32).fill(7);
const ACK = 0x87;

/** Decodes as the source does once it sent END (LOADED may come then). */
function decodeAll(...parts: Uint8Array[]): ReturnRecord[] {
  const decoder = new ReturnPathDecoder();
  decoder.forwardEnded();
  return [...decoder.push(Buffer.concat(parts))];
}

/** An ITERATION_ACK payload: iteration u32, reserved u32. */
function ackPayload(iteration: number, reserved = 0): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(iteration, 0);
  b.writeUInt32LE(reserved, 4);
  return b;
}

/** Header (in `version`) and ACCEPT, encoded; the next record's sequence number is 1. */
function accepted(version = FORMAT_VERSION): Uint8Array {
  const enc = new ReturnPathEncoder();
  return Buffer.concat([enc.start(DIGEST, version), enc.message({ type: "ACCEPT" })]);
}

describe("ITERATION_ACK", () => {
  it("is written from version 3 on and round-trips with its iteration", () => {
    expect(FORMAT_VERSION).toBeGreaterThanOrEqual(3);
    const enc = new ReturnPathEncoder();
    const records = decodeAll(
      enc.start(DIGEST),
      enc.message({ type: "ACCEPT" }),
      enc.message({ type: "ITERATION_ACK", iteration: 1 }),
      enc.message({ type: "ITERATION_ACK", iteration: 4 }),
      enc.message({ type: "LOADED", devices: [] }),
    );
    expect(records.map((r) => r.type)).toEqual([
      "ACCEPT",
      "ITERATION_ACK",
      "ITERATION_ACK",
      "LOADED",
    ]);
    expect(records[2]).toMatchObject({ iteration: 4, seq: 2 });
  });

  it("does not exist in version 2: the encoder refuses it, the decoder too", () => {
    const enc = new ReturnPathEncoder();
    enc.start(DIGEST, 2);
    enc.message({ type: "ACCEPT" });
    expect(enc.version).toBe(2);
    expect(() => enc.message({ type: "ITERATION_ACK", iteration: 1 })).toThrow(
      expect.objectContaining({ code: "EINVAL", message: expect.stringMatching(/version 2/) }),
    );
    expect(() => decodeAll(accepted(2), frameRecord(ACK, 1, ackPayload(1)))).toThrow(
      expect.objectContaining({ code: "EPROTO", rule: "record-type" }),
    );
  });

  it("comes only between ACCEPT and LOADED, numbers strictly increasing", () => {
    const early = new ReturnPathEncoder();
    early.start(DIGEST);
    expect(() => early.message({ type: "ITERATION_ACK", iteration: 1 })).toThrow(
      expect.objectContaining({ code: "EINVAL" }),
    );
    const order = expect.objectContaining({ code: "EPROTO", rule: "order" });
    const head = new ReturnPathEncoder().start(DIGEST);
    expect(() => decodeAll(head, frameRecord(ACK, 0, ackPayload(1)))).toThrow(order);
    expect(() =>
      decodeAll(accepted(), frameRecord(ACK, 1, ackPayload(3)), frameRecord(ACK, 2, ackPayload(3))),
    ).toThrow(order);
    expect(() =>
      decodeAll(accepted(), frameRecord(ACK, 1, ackPayload(3)), frameRecord(ACK, 2, ackPayload(2))),
    ).toThrow(order);
    const enc = new ReturnPathEncoder();
    const loaded = Buffer.concat([
      enc.start(DIGEST),
      enc.message({ type: "ACCEPT" }),
      enc.message({ type: "LOADED", devices: [] }),
    ]);
    expect(() => decodeAll(loaded, frameRecord(ACK, 2, ackPayload(1)))).toThrow(order);
  });

  it("refuses iteration 0, a non-zero reserved field and a payload of the wrong size", () => {
    expect(() => decodeAll(accepted(), frameRecord(ACK, 1, ackPayload(0)))).toThrow(
      expect.objectContaining({ code: "EPROTO", rule: "iteration" }),
    );
    expect(() => decodeAll(accepted(), frameRecord(ACK, 1, ackPayload(1, 5)))).toThrow(
      expect.objectContaining({ code: "EPROTO", rule: "reserved" }),
    );
    expect(() => decodeAll(accepted(), frameRecord(ACK, 1, ackPayload(1).subarray(0, 4)))).toThrow(
      expect.objectContaining({ rule: "record-length" }),
    );
  });
});

describe("stream header versions", () => {
  it("reads versions 2 to 5 and writes any of them on request; nothing outside", () => {
    for (const version of [2, 3, 4, 5]) {
      const bytes = encodeStreamHeader(StreamDirection.RETURN, DIGEST, version);
      expect(decodeStreamHeader(bytes, StreamDirection.RETURN).version).toBe(version);
    }
    expect(decodeStreamHeader(encodeStreamHeader(StreamDirection.FORWARD, DIGEST), 0).version).toBe(
      5,
    );
    for (const version of [1, 6, 2.5]) {
      expect(() => encodeStreamHeader(StreamDirection.RETURN, DIGEST, version)).toThrow(
        expect.objectContaining({ code: "EINVAL" }),
      );
    }
  });
});
