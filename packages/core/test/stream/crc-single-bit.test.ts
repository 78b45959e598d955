import { describe, expect, it } from "vitest";
import { StreamError } from "../../src/errors/index.js";
import { DevicePhase, StreamDecoder, StreamEncoder } from "../../src/stream/index.js";
import { CONFIG, concat, page, SOME_DIGEST } from "./stream-fixtures.js";

/** A small, representative stream: one record of each bulk kind and the control records. */
function stream(): { bytes: Uint8Array; records: { name: string; start: number; end: number }[] } {
  const enc = new StreamEncoder();
  const parts: [string, Uint8Array[]][] = [
    [
      "HEADER+HANDSHAKE",
      enc.start({
        config: CONFIG,
        devices: [
          {
            slot: 3,
            plugin: "mtty",
            pluginVersion: "1.0.0",
            deviceType: "mtty-2",
            compat: new Uint8Array([9, 9]),
          },
        ],
      }),
    ],
    ["RAM_PAGES", enc.ramPages(4, [page(7), null, page(null)])],
    ["DEVICE_DATA", enc.deviceData(3, DevicePhase.PRE_COPY, new Uint8Array(64).fill(0x5a))],
    ["DEVICE_INIT_DONE", enc.deviceInitDone(3)],
    ["PRECOPY_END", enc.precopyEnd()],
    ["DEVICE_CONFIG", enc.deviceConfig(3, new Uint8Array(256).fill(1))],
    ["END", enc.end(SOME_DIGEST)],
  ];
  const records: { name: string; start: number; end: number }[] = [];
  let at = 0;
  for (const [name, frames] of parts) {
    const len = frames.reduce((n, f) => n + f.byteLength, 0);
    records.push({ name, start: at, end: at + len });
    at += len;
  }
  return { bytes: concat(parts.flatMap(([, f]) => f)), records };
}

function decodeError(bytes: Uint8Array): unknown {
  try {
    const dec = new StreamDecoder({ guestPages: 16 });
    for (const _ of dec.push(bytes));
    dec.finish();
    return undefined;
  } catch (err) {
    return err;
  }
}

describe("CRC32C catches every single-bit corruption", () => {
  const { bytes, records } = stream();

  it("the unmodified stream decodes", () => {
    expect(decodeError(bytes)).toBeUndefined();
  });

  for (const r of records) {
    it(`every bit of ${r.name} (${r.end - r.start} bytes)`, () => {
      let flips = 0;
      for (let pos = r.start * 8; pos < r.end * 8; pos++) {
        const copy = bytes.slice();
        copy[pos >> 3] = (copy[pos >> 3] ?? 0) ^ (1 << (pos & 7));
        const err = decodeError(copy);
        if (!(err instanceof StreamError))
          throw new Error(`bit ${pos} of ${r.name} was not caught: ${String(err)}`);
        flips++;
      }
      expect(flips).toBe((r.end - r.start) * 8);
    });
  }
});
