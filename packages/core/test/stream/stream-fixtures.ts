// Shared builders for the stream tests: a model of a valid migration and its encoding.
import fc from "fast-check";
import {
  DevicePhase,
  frameRecord,
  HEADER_LENGTH,
  type ManifestDevice,
  PAGE_SIZE,
  StreamDecoder,
  StreamEncoder,
  type StreamRecord,
  sha256,
} from "../../src/stream/index.js";

/** One operation of a generated migration, in stream order. */
export type Op =
  | { kind: "ram"; start: number; pages: (number | null)[] }
  | { kind: "data"; slot: number; phase: DevicePhase; bytes: Uint8Array }
  | { kind: "config"; slot: number; bytes: Uint8Array }
  | { kind: "iteration"; n: number }
  | { kind: "initDone"; slot: number }
  | { kind: "precopyEnd" };

/** A whole generated migration. */
export interface Scenario {
  config: Uint8Array;
  devices: ManifestDevice[];
  guestPages: number;
  ops: Op[];
  ramDigest: Uint8Array;
  tail: "go" | "abort" | "none";
}

/** A 4 KiB page: zero for `null`, else a pattern seeded by `seed` (never all zero). */
export function page(seed: number | null): Uint8Array {
  const p = new Uint8Array(PAGE_SIZE);
  if (seed === null) return p;
  for (let i = 0; i < PAGE_SIZE; i++) p[i] = (seed * 31 + i * 7 + 1) & 0xff || 1;
  return p;
}

const textArb = fc.string({ minLength: 1, maxLength: 20 });

/** Arbitrary manifests: up to 3 devices with unique slots. */
export const devicesArb: fc.Arbitrary<ManifestDevice[]> = fc
  .uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 3 })
  .chain((slots) =>
    fc.tuple(
      ...slots.map((slot) =>
        fc.record({
          slot: fc.constant(slot),
          plugin: textArb,
          pluginVersion: textArb,
          deviceType: textArb,
          compat: fc.uint8Array({ maxLength: 40 }),
        }),
      ),
    ),
  )
  .map((d) => [...d]);

function ramOp(guestPages: number): fc.Arbitrary<Op> {
  return fc.integer({ min: 0, max: guestPages - 1 }).chain((start) =>
    fc.record({
      kind: fc.constant("ram" as const),
      start: fc.constant(start),
      pages: fc.array(fc.option(fc.integer({ min: 0, max: 255 }), { nil: null }), {
        minLength: 1,
        maxLength: Math.min(20, guestPages - start),
      }),
    }),
  );
}

/** Sizes of the chunks a stream is cut into (repeated in turn): a reader must decode any chunking. */
export const chunkSizesArb: fc.Arbitrary<number[]> = fc.array(fc.integer({ min: 1, max: 5000 }), {
  minLength: 1,
  maxLength: 8,
});

/** Arbitrary valid migrations. */
export const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    config: fc
      .jsonValue({ maxDepth: 2 })
      .map((v) => new TextEncoder().encode(JSON.stringify(v) ?? "null")),
    devices: devicesArb,
    guestPages: fc.integer({ min: 1, max: 64 }),
    ramDigest: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    tail: fc.constantFrom("go" as const, "abort" as const, "none" as const),
  })
  .chain((base) => {
    const slots = base.devices.map((d) => d.slot);
    const dataOp = (phase: DevicePhase): fc.Arbitrary<Op>[] =>
      slots.length === 0
        ? []
        : [
            fc.record({
              kind: fc.constant("data" as const),
              slot: fc.constantFrom(...slots),
              phase: fc.constant(phase),
              bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
            }),
          ];
    // Exactly one config space per slot, each at some point of the stop-copy part.
    const configs = fc.tuple(
      ...slots.map((slot) =>
        fc.record({
          op: fc.record({
            kind: fc.constant("config" as const),
            slot: fc.constant(slot),
            bytes: fc.uint8Array({ maxLength: 256 }),
          }),
          at: fc.nat(),
        }),
      ),
    );
    const pre = fc.array(
      fc.oneof(
        ramOp(base.guestPages),
        ...dataOp(DevicePhase.PRE_COPY),
        fc.constant<Op>({ kind: "iteration", n: 0 }),
      ),
      {
        maxLength: 6,
      },
    );
    const stop = fc
      .tuple(
        fc.array(fc.oneof(ramOp(base.guestPages), ...dataOp(DevicePhase.STOP_COPY)), {
          maxLength: 6,
        }),
        configs,
      )
      .map(([ops, cfgs]) => {
        const out: Op[] = [...ops];
        for (const { op, at } of cfgs) out.splice(at % (out.length + 1), 0, op);
        return out;
      });
    // Each slot finishes its initial precopy data at most once, before PRECOPY_END.
    const initDone = fc
      .subarray(slots)
      .map((ss) => ss.map((slot): Op => ({ kind: "initDone", slot })));
    return fc.tuple(pre, initDone, stop).map(([p, done, s]) => {
      let n = 0;
      const numbered = p.map((op) => (op.kind === "iteration" ? { ...op, n: n++ } : op));
      return { ...base, ops: [...numbered, ...done, { kind: "precopyEnd" } as Op, ...s] };
    });
  });

/** Encodes a scenario into one frame list per record (the header rides with HANDSHAKE). */
export function encodeScenario(s: Scenario): Uint8Array[][] {
  const enc = new StreamEncoder();
  const records: Uint8Array[][] = [enc.start({ config: s.config, devices: s.devices })];
  for (const op of s.ops) {
    switch (op.kind) {
      case "ram":
        records.push(
          enc.ramPages(
            op.start,
            op.pages.map((p) => (p === null ? null : page(p))),
          ),
        );
        break;
      case "data":
        records.push(enc.deviceData(op.slot, op.phase, op.bytes));
        break;
      case "config":
        records.push(enc.deviceConfig(op.slot, op.bytes));
        break;
      case "iteration":
        records.push(
          enc.iteration({
            iteration: op.n,
            dataPages: op.n * 3,
            zeroPages: 1,
            deviceBytes: 2 ** 40,
            dirtyPages: 5,
            durationUs: 7,
          }),
        );
        break;
      case "initDone":
        records.push(enc.deviceInitDone(op.slot));
        break;
      case "precopyEnd":
        records.push(enc.precopyEnd());
        break;
    }
  }
  records.push(enc.end(s.ramDigest));
  if (s.tail === "go") records.push(enc.go());
  if (s.tail === "abort") records.push(enc.abort("operator cancelled ✋"));
  return records;
}

/** Concatenates frames into one buffer. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** A record with its byte views copied, so it outlives the decoder's next step. */
export function detach(r: StreamRecord): StreamRecord {
  return structuredClone(r);
}

/**
 * Decodes `bytes` fed in chunks of the given sizes (cycled); returns the detached records.
 * Every chunk is a view of one Buffer that the next chunk overwrites (scribbled over in
 * between), as the target's socket reads are: a decoder that kept a view past its record
 * would decode garbage or refuse the stream here.
 */
export function decodeAll(
  bytes: Uint8Array,
  guestPages: number,
  chunkSizes: readonly number[] = [bytes.byteLength],
): StreamRecord[] {
  const dec = new StreamDecoder({ guestPages });
  const out: StreamRecord[] = [];
  const reused = Buffer.alloc(Math.min(bytes.byteLength, Math.max(1, ...chunkSizes)));
  let at = 0;
  let i = 0;
  while (at < bytes.byteLength) {
    const n = Math.min(
      Math.max(1, chunkSizes[i++ % chunkSizes.length] ?? 1),
      bytes.byteLength - at,
    );
    reused.set(bytes.subarray(at, at + n));
    for (const r of dec.push(reused.subarray(0, n))) out.push(detach(r));
    reused.fill(0xa5);
    at += n;
  }
  dec.finish();
  return out;
}

/** Flat RAM image after applying a scenario's RAM ops (the expected target memory). */
export function expectedRam(s: Scenario): Uint8Array {
  const ram = new Uint8Array(s.guestPages * PAGE_SIZE);
  for (const op of s.ops) {
    if (op.kind !== "ram") continue;
    for (const [i, p] of op.pages.entries()) ram.set(page(p), (op.start + i) * PAGE_SIZE);
  }
  return ram;
}

/** Number of fast-check runs, raised by MDEVKIT_FUZZ_RUNS for long fuzzing sessions. */
export function fuzzRuns(base: number): number {
  const env = Number(process.env["MDEVKIT_FUZZ_RUNS"]);
  return Number.isFinite(env) && env > 0 ? Math.max(base, env) : base;
}

/** A stable config for hand-written tests. */
export const CONFIG = new TextEncoder().encode(
  JSON.stringify({ name: "vm1", memory: 64 * PAGE_SIZE }),
);

/** Digest used where the value does not matter. */
export const SOME_DIGEST = sha256(new Uint8Array([1, 2, 3]));

/** One record of an encoded stream, taken apart (see {@link splitStream}). */
export interface RawRecord {
  type: number;
  payload: Uint8Array;
}

/** Splits an encoded forward stream into its header and records (no checks). */
export function splitStream(bytes: Uint8Array): { header: Uint8Array; records: RawRecord[] } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: RawRecord[] = [];
  let at = HEADER_LENGTH;
  while (at < bytes.byteLength) {
    const length = v.getUint32(at + 8, true);
    records.push({ type: v.getUint16(at, true), payload: bytes.slice(at + 12, at + 12 + length) });
    at += 12 + length + 4;
  }
  return { header: bytes.slice(0, HEADER_LENGTH), records };
}

/**
 * Puts a stream back together with sequence numbers and CRCs recomputed: an edited stream
 * whose every frame is well-formed, as a careful forger (or a bug upstream) would produce.
 */
export function joinStream(header: Uint8Array, records: readonly RawRecord[]): Uint8Array {
  return concat([header, ...records.map((r, seq) => frameRecord(r.type, seq, r.payload))]);
}
