// Issue #14 item 7: exactly one DEVICE_CONFIG per manifest slot, and END's device digest
// covers it. Every edited stream below has its sequence numbers and CRCs recomputed, so
// only the rule under test can refuse it.
import { describe, expect, it } from "vitest";
import { StreamError } from "../../src/errors/index.js";
import {
  DevicePhase,
  deviceDigest,
  RecordType,
  StreamDecoder,
  StreamEncoder,
  sha256,
} from "../../src/stream/index.js";
import {
  CONFIG,
  concat,
  decodeAll,
  joinStream,
  page,
  type RawRecord,
  SOME_DIGEST,
  splitStream,
} from "./stream-fixtures.js";

const DEVICES = [3, 7].map((slot) => ({
  slot,
  plugin: "mtty",
  pluginVersion: "1.0.0",
  deviceType: "mtty-2",
  compat: new Uint8Array([slot]),
}));

const CONFIG_SPACE = { 3: new Uint8Array(256).fill(0x33), 7: new Uint8Array(256).fill(0x77) };

/** A valid two-device stream: each slot's config once, after PRECOPY_END. */
function validStream(): Uint8Array {
  const enc = new StreamEncoder();
  return concat([
    ...enc.start({ config: CONFIG, devices: DEVICES }),
    ...enc.ramPages(0, [page(1), null]),
    ...enc.deviceData(3, DevicePhase.PRE_COPY, new Uint8Array([1, 2, 3])),
    ...enc.precopyEnd(),
    ...enc.deviceConfig(3, CONFIG_SPACE[3]),
    ...enc.deviceData(3, DevicePhase.STOP_COPY, new Uint8Array([4, 5])),
    ...enc.deviceConfig(7, CONFIG_SPACE[7]),
    ...enc.deviceData(7, DevicePhase.STOP_COPY, new Uint8Array([6])),
    ...enc.end(SOME_DIGEST),
  ]);
}

/** Edits the valid stream's records with `edit`, then renumbers and re-CRCs them. */
function edited(edit: (records: RawRecord[]) => RawRecord[]): Uint8Array {
  const { header, records } = splitStream(validStream());
  return joinStream(header, edit(records));
}

/** Index of the `n`th DEVICE_CONFIG record. */
function configAt(records: readonly RawRecord[], n: number): number {
  const at = records.flatMap((r, i) => (r.type === RecordType.DEVICE_CONFIG ? [i] : []))[n];
  if (at === undefined) throw new Error(`no DEVICE_CONFIG #${n}`);
  return at;
}

/** A DEVICE_CONFIG record's payload with its slot replaced. */
function withSlot(r: RawRecord, slot: number): RawRecord {
  const payload = r.payload.slice();
  new DataView(payload.buffer).setUint16(0, slot, true);
  return { type: r.type, payload };
}

function refusal(bytes: Uint8Array): StreamError {
  try {
    decodeAll(bytes, 64);
  } catch (err) {
    expect(err).toBeInstanceOf(StreamError);
    return err as StreamError;
  }
  throw new Error("the stream was accepted");
}

describe("DEVICE_CONFIG: exactly one per manifest slot", () => {
  it("a stream with one config per slot decodes, and the edit helpers keep it valid", () => {
    const records = decodeAll(
      edited((r) => r),
      64,
    );
    expect(records.filter((r) => r.type === "DEVICE_CONFIG").map((r) => r.slot)).toEqual([3, 7]);
  });

  it("a removed config is refused at END (config-missing)", () => {
    const err = refusal(edited((r) => r.filter((_, i) => i !== configAt(r, 1))));
    expect(err).toMatchObject({ code: "EPROTO", recordType: "END", rule: "config-missing" });
    expect(err.message).toMatch(/slot 7 sent no DEVICE_CONFIG before END/);
  });

  it("a duplicated config is refused where the copy stands (duplicate-config)", () => {
    const err = refusal(
      edited((r) => {
        const i = configAt(r, 0);
        return [...r.slice(0, i + 1), r[i] as RawRecord, ...r.slice(i + 1)];
      }),
    );
    expect(err).toMatchObject({
      code: "EPROTO",
      recordType: "DEVICE_CONFIG",
      rule: "duplicate-config",
    });
  });

  it("a config relabelled to another manifest slot is refused (duplicate-config)", () => {
    const err = refusal(
      edited((r) => {
        const i = configAt(r, 0);
        return r.map((rec, j) => (j === i ? withSlot(rec, 7) : rec));
      }),
    );
    expect(err).toMatchObject({ code: "EPROTO", rule: "duplicate-config" });
    expect(err.message).toMatch(/slot 7 already sent its config space/);
  });

  it("a config relabelled to a slot outside the manifest is refused (slot)", () => {
    const err = refusal(
      edited((r) => {
        const i = configAt(r, 1);
        return r.map((rec, j) => (j === i ? withSlot(rec, 9) : rec));
      }),
    );
    expect(err).toMatchObject({ code: "EPROTO", recordType: "DEVICE_CONFIG", rule: "slot" });
  });

  it("a config read into a buffer the next read reuses still counts at END", () => {
    // The target reads its socket into one reused Buffer, and a record whole in a chunk is
    // a view of it. A Buffer's slice() is a view too: the rules kept such a "copy" of each
    // config, the reads after it overwrote the bytes, and END refused a valid stream
    // (device-digest) whenever a config and END arrived in different reads.
    const bytes = validStream();
    const starts = decodeAll(bytes, 64).map((r) => r.offset);
    const bounds = [0, ...starts.slice(1), bytes.byteLength];
    const reused = Buffer.alloc(bytes.byteLength);
    const dec = new StreamDecoder({ guestPages: 64 });
    const types: string[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const [from, to] = [bounds[i] as number, bounds[i + 1] as number];
      reused.fill(0xee);
      reused.set(bytes.subarray(from, to));
      for (const r of dec.push(reused.subarray(0, to - from))) types.push(r.type);
    }
    dec.finish();
    expect(types.at(-1)).toBe("END");
  });

  it("a config byte changed (CRC recomputed) is refused at END (device-digest)", () => {
    const err = refusal(
      edited((r) => {
        const i = configAt(r, 1);
        const payload = (r[i] as RawRecord).payload.slice();
        payload[100] = (payload[100] ?? 0) ^ 0x01;
        return r.map((rec, j) => (j === i ? { type: rec.type, payload } : rec));
      }),
    );
    expect(err).toMatchObject({ code: "EBADMSG", recordType: "END", rule: "device-digest" });
    expect(err.message).toMatch(/slot 7/);
  });

  it("END's device digest is SHA-256(SHA-256(data) ‖ config space), as documented", () => {
    const end = decodeAll(validStream(), 64).find((r) => r.type === "END");
    if (end?.type !== "END") throw new Error("no END");
    const data3 = sha256(new Uint8Array([1, 2, 3, 4, 5]));
    expect(end.devices[0]).toMatchObject({ slot: 3, bytes: 5 });
    expect([...(end.devices[0]?.digest ?? [])]).toEqual([...deviceDigest(data3, CONFIG_SPACE[3])]);
    expect([...deviceDigest(data3, CONFIG_SPACE[3])]).toEqual([
      ...sha256(concat([data3, CONFIG_SPACE[3]])),
    ]);
  });

  it("the encoder refuses what the decoder would (EINVAL)", () => {
    const enc = new StreamEncoder();
    enc.start({ config: CONFIG, devices: DEVICES });
    enc.precopyEnd();
    enc.deviceConfig(3, CONFIG_SPACE[3]);
    expect(() => enc.deviceConfig(3, CONFIG_SPACE[3])).toThrow(/duplicate-config/);
    expect(() => enc.deviceConfig(9, CONFIG_SPACE[3])).toThrow(/not in the manifest/);
    expect(() => enc.end(SOME_DIGEST)).toThrow(/config-missing/);
    enc.deviceConfig(7, CONFIG_SPACE[7]);
    expect(() => enc.end(SOME_DIGEST)).not.toThrow();
  });

  it("a decoder fed the edited stream in small chunks refuses it the same way", () => {
    const bytes = edited((r) => r.filter((_, i) => i !== configAt(r, 0)));
    const dec = new StreamDecoder({ guestPages: 64 });
    expect(() => {
      for (let at = 0; at < bytes.byteLength; at += 7) [...dec.push(bytes.subarray(at, at + 7))];
    }).toThrow(/config-missing/);
  });
});
