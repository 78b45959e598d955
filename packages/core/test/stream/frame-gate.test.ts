// A record the stream's phase does not allow is refused from its 12-byte frame header, before
// any of its payload is waited for or buffered: a peer that never sent a HANDSHAKE cannot have
// a target hold a whole record (8 MiB) per connection before the order check sees it.
import { describe, expect, it } from "vitest";
import { StreamError } from "../../src/errors/stream-error.js";
import {
  DEFAULT_STREAM_LIMITS,
  FRAME_HEADER_LENGTH,
  HEADER_LENGTH,
  RecordType,
  StreamDecoder,
  StreamEncoder,
} from "../../src/stream/index.js";
import { concat } from "./stream-fixtures.js";

const config = new TextEncoder().encode(JSON.stringify({ name: "vm", memoryMiB: 4 }));

/** A frame header (no payload, no trailer) declaring `length` payload bytes. */
function frameHead(type: number, seq: number, length: number): Uint8Array {
  const head = new Uint8Array(FRAME_HEADER_LENGTH);
  const v = new DataView(head.buffer);
  v.setUint16(0, type, true);
  v.setUint32(4, seq, true);
  v.setUint32(8, length, true);
  return head;
}

/** Pushes `bytes` and returns what the decoder threw (or undefined). */
function pushError(dec: StreamDecoder, bytes: Uint8Array): unknown {
  try {
    for (const _ of dec.push(bytes));
  } catch (err) {
    return err;
  }
  return undefined;
}

describe("the frame gate", () => {
  const [header, handshake] = new StreamEncoder().start({ config, devices: [] }) as [
    Uint8Array,
    Uint8Array,
  ];

  it.each([
    ["RAM_PAGES", RecordType.RAM_PAGES, DEFAULT_STREAM_LIMITS.maxRecordLength],
    ["DEVICE_DATA", RecordType.DEVICE_DATA, DEFAULT_STREAM_LIMITS.maxRecordLength],
    ["DEVICE_CONFIG", RecordType.DEVICE_CONFIG, 4100],
    ["END", RecordType.END, 68],
  ])(
    "refuses a %s before HANDSHAKE from its frame header, without its payload",
    (name, type, length) => {
      const dec = new StreamDecoder();
      expect(pushError(dec, header)).toBeUndefined();
      const err = pushError(dec, frameHead(type, 0, length));
      expect(err).toBeInstanceOf(StreamError);
      expect(err).toMatchObject({
        code: "EPROTO",
        recordType: name,
        offset: HEADER_LENGTH,
        rule: "order",
        message: expect.stringContaining(`${name} before HANDSHAKE`),
      });
      // The decoder stays failed: the payload that follows is never taken.
      expect(pushError(dec, new Uint8Array(4096))).toBe(err);
    },
  );

  it("lets an ABORT come first (it is allowed at any time)", () => {
    const dec = new StreamDecoder();
    expect(pushError(dec, concat([header, frameHead(RecordType.ABORT, 0, 11)]))).toBeUndefined();
    expect(dec.missing).toBe(11 + 4);
  });

  it("refuses a second HANDSHAKE from its frame header", () => {
    const dec = new StreamDecoder();
    expect(pushError(dec, concat([header, handshake]))).toBeUndefined();
    const err = pushError(dec, frameHead(RecordType.HANDSHAKE, 1, 5_000_000));
    expect(err).toMatchObject({ code: "EPROTO", rule: "order", recordType: "HANDSHAKE" });
    expect(err).toMatchObject({ message: expect.stringContaining("a second HANDSHAKE") });
  });

  it("after END, refuses anything but GO or ABORT from its frame header", () => {
    const enc = new StreamEncoder();
    const frames = [
      ...enc.start({ config, devices: [] }),
      ...enc.precopyEnd(),
      ...enc.end(new Uint8Array(32)),
    ];
    const dec = new StreamDecoder({ guestPages: 1024 });
    expect(pushError(dec, concat(frames))).toBeUndefined();
    expect(dec.phase).toBe("ended");
    const err = pushError(dec, frameHead(RecordType.RAM_PAGES, 3, 1 << 20));
    expect(err).toMatchObject({ code: "EPROTO", rule: "order", recordType: "RAM_PAGES" });
  });

  it("asks the admission with the declared length before the payload, and a refusal stops the decoder", () => {
    const dec = new StreamDecoder();
    const seen: [string, number, number][] = [];
    const busy = new Error("budget taken");
    dec.setFrameAdmission((type, length, offset) => {
      seen.push([type, length, offset]);
      throw busy;
    });
    const err = pushError(
      dec,
      concat([header, frameHead(RecordType.HANDSHAKE, 0, handshake.byteLength - 16)]),
    );
    expect(err).toBe(busy);
    expect(seen).toEqual([["HANDSHAKE", handshake.byteLength - 16, HEADER_LENGTH]]);
    // The rest of the HANDSHAKE is not taken, and nothing is read after the refusal.
    expect(pushError(dec, handshake.subarray(FRAME_HEADER_LENGTH))).toBe(busy);
  });

  it("does not ask the admission about a record the stream's rules already refused", () => {
    const dec = new StreamDecoder();
    const seen: string[] = [];
    dec.setFrameAdmission((type) => seen.push(type));
    pushError(dec, concat([header, frameHead(RecordType.RAM_PAGES, 0, 1 << 20)]));
    expect(seen).toEqual([]);
  });
});
