// Mutations of a valid migration stream, as fast-check arbitraries. Each produces the
// mutated bytes and a label (the kind of edit, for statistics and for the failure report);
// `mustRefuse` marks edits every reader must refuse whatever the bytes (END's digests or the
// header's config digest cover them), so acceptance there is a finding too.
import { DEFAULT_STREAM_LIMITS, FRAME_HEADER_LENGTH, RecordType } from "@mdevkit/core";
import fc from "fast-check";
import {
  configOf,
  joinStream,
  makeRecord,
  payloadOf,
  recordTypeOf,
  renumber,
  resealHeader,
  resealRecord,
  type SplitStream,
  splitStream,
  withConfig,
} from "./stream-surgery.js";

/** One mutated stream. */
export interface MutatedStream {
  readonly bytes: Uint8Array;
  /** The edits applied, e.g. `field-extreme DEVICE_DATA +6 u32=0xffffffff`. */
  readonly label: string;
  /** True when a correct reader must refuse the result. */
  readonly mustRefuse: boolean;
}

const typeName = (t: number): string =>
  Object.entries(RecordType).find(([, v]) => v === t)?.[0] ?? `type 0x${t.toString(16)}`;

/** Values that break parsers: boundaries of every width, 2^53, and the stream limits. */
const EXTREMES: readonly bigint[] = [
  0n,
  1n,
  2n,
  0x7fn,
  0x80n,
  0xffn,
  0x100n,
  0xfffen,
  0xffffn,
  0x10000n,
  0xfffffn,
  0x7fffffffn,
  0x80000000n,
  0xfffffffen,
  0xffffffffn,
  0x100000000n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 63n,
  2n ** 64n - 1n,
  BigInt(DEFAULT_STREAM_LIMITS.maxRecordLength),
  BigInt(DEFAULT_STREAM_LIMITS.maxRecordLength + 1),
  BigInt(DEFAULT_STREAM_LIMITS.maxPagesPerRun),
  BigInt(DEFAULT_STREAM_LIMITS.maxPagesPerRun + 1),
  BigInt(DEFAULT_STREAM_LIMITS.maxDevices + 1),
  4096n,
  4097n,
];

type Edit = (
  s: SplitStream,
  other: SplitStream,
) => { s: SplitStream; label: string; mustRefuse?: boolean };

const pick = <T>(xs: readonly T[], n: number): T => xs[n % xs.length] as T;

/** Index of the `n`-th record (cyclically) whose payload is not empty, or -1. */
function withPayload(s: SplitStream, n: number): number {
  const idx = s.records.flatMap((r, i) => (payloadOf(r).byteLength > 0 ? [i] : []));
  return idx.length === 0 ? -1 : (idx[n % idx.length] as number);
}
const bodyRecords = (s: SplitStream): number => Math.max(1, s.records.length);

/** Writes `value` as a little-endian integer of `width` bytes at `at` (truncated to width). */
function writeLe(bytes: Uint8Array, at: number, width: number, value: bigint): void {
  for (let i = 0; i < width && at + i < bytes.byteLength; i++)
    bytes[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

/** Replaces record `i` by `r` (keeping the rest). */
const replaceRecord = (s: SplitStream, i: number, r: Uint8Array): SplitStream => ({
  ...s,
  records: s.records.map((x, j) => (j === i ? r : x)),
});

/** Whether an edit of payload byte `at` of record `r` is covered by END or the header digest. */
function covered(r: Uint8Array, at: number): boolean {
  const t = recordTypeOf(r);
  if (t === RecordType.DEVICE_DATA) return at >= 4; // the device bytes END digests
  if (t === RecordType.HANDSHAKE) {
    if (r.byteLength < FRAME_HEADER_LENGTH + 8) return false;
    const configLen = new DataView(r.buffer, r.byteOffset + FRAME_HEADER_LENGTH).getUint32(0, true);
    return at >= 4 && at < 4 + configLen; // the config the header's SHA-256 covers
  }
  return false;
}

const byteEdit: fc.Arbitrary<Edit> = fc
  .tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }))
  .map(([ri, bi, x]) => (s: SplitStream) => {
    const i = withPayload(s, ri);
    if (i < 0) return { s, label: "byte (no payload left)" };
    const r = (s.records[i] as Uint8Array).slice();
    const p = payloadOf(r);
    const at = bi % p.byteLength;
    p[at] = (p[at] ?? 0) ^ x;
    return {
      s: replaceRecord(s, i, resealRecord(r)),
      label: `byte ${typeName(recordTypeOf(r))} +${at} ^0x${x.toString(16)}`,
      mustRefuse: covered(r, at),
    };
  });

const fieldEdit: fc.Arbitrary<Edit> = fc
  .tuple(
    fc.nat(),
    fc.nat(),
    fc.constantFrom(1, 2, 4, 8),
    fc.constantFrom(...EXTREMES),
    fc.boolean(),
  )
  .map(([ri, bi, width, value, nearStart]) => (s: SplitStream) => {
    const i = withPayload(s, ri);
    if (i < 0) return { s, label: "field (no payload left)" };
    const r = (s.records[i] as Uint8Array).slice();
    const p = payloadOf(r);
    // Fields live mostly in the first bytes of a payload (its head); bulk follows.
    const at = nearStart ? bi % Math.min(p.byteLength, 64) : bi % p.byteLength;
    const before = p.slice(at, at + width);
    writeLe(p, at, width, value);
    const changed = !Buffer.from(before).equals(Buffer.from(p.subarray(at, at + width)));
    return {
      s: replaceRecord(s, i, resealRecord(r)),
      label: `field ${typeName(recordTypeOf(r))} +${at} u${width * 8}=0x${value.toString(16)}`,
      mustRefuse: changed && covered(r, at),
    };
  });

const lengthEdit: fc.Arbitrary<Edit> = fc
  .tuple(
    fc.nat(),
    fc.constantFrom(...EXTREMES),
    fc.integer({ min: -64, max: 64 }),
    fc.boolean(),
    fc.nat(),
  )
  .map(([ri, extreme, delta, useDelta, fill]) => (s: SplitStream) => {
    const i = ri % bodyRecords(s);
    const r = s.records[i] ?? new Uint8Array(16);
    const p = payloadOf(r);
    const target = useDelta ? Math.max(0, p.byteLength + delta) : Number(extreme & 0xffffffffn);
    // Lengths a payload can follow are given one (cut or padded); larger claims keep the
    // old payload, so only the frame header's check stands between them and an allocation.
    const fits = target <= p.byteLength + 65536;
    const payload = fits ? new Uint8Array(target).fill(fill & 0xff) : p.slice();
    if (fits) payload.set(p.subarray(0, Math.min(p.byteLength, target)));
    const out = makeRecord(
      recordTypeOf(r),
      new DataView(r.buffer, r.byteOffset).getUint32(4, true),
      payload,
    );
    if (!fits) new DataView(out.buffer).setUint32(8, target, true);
    return {
      s: replaceRecord(s, i, fits ? out : resealRecord(out)),
      label: `length ${typeName(recordTypeOf(r))} ${p.byteLength}→${target}`,
    };
  });

const typeEdit: fc.Arbitrary<Edit> = fc
  .tuple(
    fc.nat(),
    fc.oneof(fc.constantFrom(...Object.values(RecordType)), fc.integer({ min: 0, max: 0xffff })),
  )
  .map(([ri, type]) => (s: SplitStream) => {
    const i = ri % bodyRecords(s);
    const r = (s.records[i] ?? new Uint8Array(16)).slice();
    const from = recordTypeOf(r);
    new DataView(r.buffer).setUint16(0, type, true);
    return {
      s: replaceRecord(s, i, resealRecord(r)),
      label: `type ${typeName(from)}→${typeName(type)}`,
    };
  });

const reorderEdit: fc.Arbitrary<Edit> = fc
  .tuple(fc.constantFrom("drop", "duplicate", "swap", "move"), fc.nat(), fc.nat())
  .map(([how, a, b]) => (s: SplitStream) => {
    const n = s.records.length;
    if (n === 0) return { s, label: `${how} (no whole record left)` };
    const i = a % n;
    const j = b % n;
    const rs = [...s.records];
    if (how === "drop") rs.splice(i, 1);
    if (how === "duplicate") rs.splice(j, 0, rs[i] as Uint8Array);
    if (how === "swap") [rs[i], rs[j]] = [rs[j] as Uint8Array, rs[i] as Uint8Array];
    if (how === "move") rs.splice(j, 0, ...rs.splice(i, 1));
    return {
      s: { ...s, records: renumber(rs) },
      label: `${how} ${typeName(recordTypeOf(s.records[i] ?? new Uint8Array(2)))} ${i}→${j} (renumbered)`,
    };
  });

const spliceEdit: fc.Arbitrary<Edit> = fc
  .tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 4 }), fc.boolean())
  .map(([a, b, count, replace]) => (s: SplitStream, other: SplitStream) => {
    const from = 1 + (a % Math.max(1, other.records.length - 1));
    const taken = other.records.slice(from, from + count);
    const at = 1 + (b % Math.max(1, s.records.length - 1));
    const rs = [...s.records];
    rs.splice(at, replace ? taken.length : 0, ...taken);
    return {
      s: { ...s, records: renumber(rs) },
      label: `splice ${taken.map((r) => typeName(recordTypeOf(r))).join(",")} from another stream at ${at}${replace ? " (replacing)" : ""}`,
    };
  });

const appendEdit: fc.Arbitrary<Edit> = fc
  .tuple(
    fc.constantFrom("junk", "record", "stream", "zeros"),
    fc.uint8Array({ minLength: 1, maxLength: 64 }),
    fc.nat(),
  )
  .map(([how, junk, n]) => (s: SplitStream, other: SplitStream) => {
    let tail: Uint8Array = junk;
    if (how === "zeros") tail = new Uint8Array(1 + (n % 4096));
    if (how === "record") {
      const r = (pick(s.records, n) ?? new Uint8Array(16)).slice();
      new DataView(r.buffer).setUint32(4, s.records.length, true);
      tail = resealRecord(r);
    }
    if (how === "stream") tail = joinStream(other);
    // Bytes after END (or after GO/ABORT) are refused by every reader that checks the end.
    return {
      s: { ...s, tail: new Uint8Array(Buffer.concat([s.tail, tail])) },
      label: `append ${how} (${tail.byteLength} bytes)`,
      mustRefuse: true,
    };
  });

const truncateEdit: fc.Arbitrary<Edit> = fc.nat().map((n) => (s: SplitStream) => {
  const bytes = joinStream(s);
  const cut = n % bytes.byteLength;
  return {
    s: {
      header: bytes.slice(0, Math.min(cut, 52)),
      records: [],
      tail: bytes.slice(Math.min(cut, 52), cut),
    },
    label: `truncate at ${cut} of ${bytes.byteLength}`,
    mustRefuse: true,
  };
});

const rawFlip: fc.Arbitrary<Edit> = fc.nat().map((n) => (s: SplitStream) => {
  const bytes = joinStream(s);
  const bit = n % (bytes.byteLength * 8);
  bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) ^ (1 << (bit & 7));
  const again = splitStream(bytes);
  return { s: again, label: `raw bit ${bit} (no re-seal)`, mustRefuse: true };
});

const headerEdit: fc.Arbitrary<Edit> = fc
  .tuple(fc.constantFrom(8, 10, 11, 12), fc.constantFrom(...EXTREMES))
  .map(([at, value]) => (s: SplitStream) => {
    const header = s.header.slice();
    const width = at === 8 ? 2 : at === 12 ? 4 : 1;
    const before = header.slice(at, at + width);
    writeLe(header, at, width, value);
    const changed = !Buffer.from(before).equals(Buffer.from(header.subarray(at, at + width)));
    return {
      s: { ...s, header: resealHeader(header) },
      label: `header +${at}=0x${value.toString(16)} (re-sealed)`,
      mustRefuse: changed,
    };
  });

/** Values a hostile config puts in the fields that size or shape the VM. */
const CONFIG_VALUES: readonly unknown[] = [
  0,
  -1,
  1,
  1.5,
  4096,
  2048,
  16384,
  16385,
  2 ** 31,
  2 ** 53,
  1e308,
  "64",
  null,
  true,
  [],
  {},
  "x".repeat(300),
];

const configEdit: fc.Arbitrary<Edit> = fc
  .tuple(
    fc.constantFrom(
      "memoryMiB",
      "vcpus",
      "initialFill",
      "deviceTickMs",
      "seed",
      "name",
      "devices",
      "workloads",
      "unknownField",
      "whole",
    ),
    fc.constantFrom(...CONFIG_VALUES),
    fc.jsonValue({ maxDepth: 2 }),
  )
  .map(([field, value, junk]) => (s: SplitStream) => {
    let text: string;
    try {
      const config = JSON.parse(configOf(s)) as Record<string, unknown>;
      text =
        field === "whole"
          ? (JSON.stringify(junk) ?? "null")
          : JSON.stringify({ ...config, [field]: value });
    } catch {
      text = "{";
    }
    return {
      s: withConfig(s, new TextEncoder().encode(text)),
      label: `config ${field}=${JSON.stringify(field === "whole" ? junk : value)?.slice(0, 40)} (digest re-computed)`,
    };
  });

const configText: fc.Arbitrary<Edit> = fc
  .string({ maxLength: 40 })
  .map((t) => (s: SplitStream) => ({
    s: withConfig(s, new TextEncoder().encode(t)),
    label: `config text ${JSON.stringify(t)} (digest re-computed)`,
  }));

const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 4, arbitrary: byteEdit },
  { weight: 5, arbitrary: fieldEdit },
  { weight: 2, arbitrary: lengthEdit },
  { weight: 1, arbitrary: typeEdit },
  { weight: 2, arbitrary: reorderEdit },
  { weight: 2, arbitrary: spliceEdit },
  { weight: 1, arbitrary: appendEdit },
  { weight: 1, arbitrary: truncateEdit },
  { weight: 1, arbitrary: rawFlip },
  { weight: 1, arbitrary: headerEdit },
  { weight: 2, arbitrary: configEdit },
  { weight: 1, arbitrary: configText },
);

/**
 * One to three edits of one of `bases` (another base supplies spliced records). Must-refuse
 * holds only for a single edit: a second one may undo the first.
 */
export function mutatedStream(bases: readonly Uint8Array[]): fc.Arbitrary<MutatedStream> {
  const split = bases.map(splitStream);
  return fc
    .tuple(fc.nat(), fc.nat(), fc.array(edit, { minLength: 1, maxLength: 3 }))
    .map(([a, b, edits]) => {
      let s = pick(split, a);
      const other = pick(split, b);
      const labels: string[] = [];
      let mustRefuse = false;
      for (const e of edits) {
        const r = e(s, other);
        s = r.s;
        labels.push(r.label);
        mustRefuse = edits.length === 1 && (r.mustRefuse ?? false);
      }
      return { bytes: joinStream(s), label: labels.join(" + "), mustRefuse };
    });
}
