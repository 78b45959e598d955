/**
 * The vGPU's migration stream: a sequence of core state documents (`StateWriter`
 * output, each self-delimiting by its header), in the order GVT-g's migration image
 * has its regions:
 *
 * 1. `compat` alone — checked by the target as soon as it has arrived;
 * 2. PRE_COPY only: `ggtt` (the whole guest GGTT, the initial bytes), then one
 *    `ggtt-delta` document per batch of entries the guest rewrote;
 * 3. the STOP_COPY document: `ggtt` (no precopy) or the last `ggtt-delta`, then `cfg`,
 *    `sreg`, `vreg`, `fence`, `ppgtt` (guest roots only), `execlist`, `workloads`
 *    (queued ones, as ELSP dwords), `display` (with the virtual time), `opregion`
 *    (optional), `partial-ptes` (optional, stream v2 only), and `end`.
 *
 * Stream versions: v1 has no partial PTEs; v2 adds them as an optional section, so a v1
 * stream loads on a v2 target and a v1 reader skips what it does not know. Every value
 * is guest-visible; no host address exists in this file's vocabulary.
 */
import {
  type FieldReader,
  type FieldWriter,
  MdevError,
  StateReader as Reader,
  StateError,
  type StateSection,
  StateWriter,
} from "@mdevkit/core";
import { CFG_BYTES } from "./config-space.js";
import { OPREGION_BYTES } from "./opregion.js";
import { MMIO_BYTES, PIPES } from "./registers.js";
import type { EngineImage, MmImage, PipeImage, VgpuImage, WorkloadImage } from "./vgpu-image.js";
import { ggttEntries, type VgpuType } from "./vgpu-types.js";

/** Newest stream version this build writes and reads. */
export const STREAM_VERSION = 2;
/** Oldest stream version this build reads. */
export const MIN_STREAM_VERSION = 1;
/** GPU generation of every type here (Skylake, Gen9). */
export const GEN = 9;
/** Bytes of a state document's header (magic, format, body length). */
const DOC_HEADER = 12;
const MAGIC = [0x4d, 0x44, 0x53, 0x54];
/** Largest section: the 2 MiB register file as (offset, value) pairs, with room. */
const MAX_SECTION = 16 * 2 ** 20;

/** What the source says about its vGPU before any state: the handshake blob and record 1. */
export interface CompatInfo {
  readonly vgpuType: string;
  readonly lowGmBytes: number;
  readonly highGmBytes: number;
  readonly fences: number;
  readonly gen: number;
  readonly engines: readonly string[];
  readonly streamVersion: number;
}

/** The compat record of a type, for stream `version`. */
export function compatOf(t: VgpuType, version: number = STREAM_VERSION): CompatInfo {
  return {
    vgpuType: t.name,
    lowGmBytes: t.lowGmBytes,
    highGmBytes: t.highGmBytes,
    fences: t.fences,
    gen: GEN,
    engines: t.engines,
    streamVersion: version,
  };
}

/** Encodes the compat document (also the handshake's compatibility blob). */
export function encodeCompat(c: CompatInfo): Uint8Array {
  return new StateWriter()
    .section("compat", 1, (f) => {
      f.u16(c.streamVersion).string(c.vgpuType).u64(c.lowGmBytes).u64(c.highGmBytes);
      f.u8(c.fences).u8(c.gen).u8(c.engines.length);
      for (const e of c.engines) f.string(e);
    })
    .finish();
}

/** Decodes a compat document; StateError/MdevError on anything malformed. */
export function decodeCompat(doc: Uint8Array): CompatInfo {
  let out: CompatInfo | undefined;
  for (const s of new Reader(doc, { sections: { compat: 1 } })) {
    if (out)
      throw new StateError("EPROTO", "compat", 0, "duplicate-section", "compat appears twice");
    const f = s.fields;
    const streamVersion = f.u16();
    const vgpuType = f.string(64);
    const lowGmBytes = safe(f.u64(), "compat", "lowGmBytes");
    const highGmBytes = safe(f.u64(), "compat", "highGmBytes");
    const fences = f.u8();
    const gen = f.u8();
    const n = f.u8();
    const engines: string[] = [];
    for (let i = 0; i < n; i++) engines.push(f.string(16));
    f.end();
    out = { vgpuType, lowGmBytes, highGmBytes, fences, gen, engines, streamVersion };
  }
  if (!out)
    throw new StateError(
      "EBADMSG",
      "compat",
      0,
      "missing",
      "the stream does not start with compat",
    );
  return out;
}

/** Why `c` cannot load into a vGPU of type `t`, or undefined if it can. */
export function compatProblem(c: CompatInfo, t: VgpuType): string | undefined {
  if (c.streamVersion < MIN_STREAM_VERSION || c.streamVersion > STREAM_VERSION) {
    return `stream version ${c.streamVersion} (this build reads ${MIN_STREAM_VERSION}–${STREAM_VERSION})`;
  }
  if (c.vgpuType !== t.name) return `vGPU type ${c.vgpuType}, this device is ${t.name}`;
  if (c.lowGmBytes !== t.lowGmBytes || c.highGmBytes !== t.highGmBytes) {
    return `graphics memory ${c.lowGmBytes}+${c.highGmBytes} bytes, ${t.name} here has ${t.lowGmBytes}+${t.highGmBytes}`;
  }
  if (c.fences !== t.fences) return `${c.fences} fences, ${t.name} here has ${t.fences}`;
  if (c.gen !== GEN) return `GPU generation ${c.gen}, this host is Gen${GEN}`;
  if (c.engines.join(",") !== t.engines.join(",")) {
    return `engines ${c.engines.join(",")}, ${t.name} here has ${t.engines.join(",")}`;
  }
  return undefined;
}

function safe(v: bigint, tag: string, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new StateError("EBADMSG", tag, 0, "range", `${what} 0x${v.toString(16)} exceeds 2^53`);
  }
  return Number(v);
}

function bad(tag: string, rule: string, detail: string): StateError {
  return new StateError("EBADMSG", tag, 0, rule, detail);
}

/** The whole-GGTT document (PRE_COPY initial bytes). */
export function encodeGgtt(ggtt: Uint32Array): Uint8Array {
  return new StateWriter().section("ggtt", 1, (f) => writeGgtt(f, ggtt)).finish();
}

function writeGgtt(f: FieldWriter, ggtt: Uint32Array): void {
  f.u32(ggtt.length / 2).raw(new Uint8Array(ggtt.buffer, ggtt.byteOffset, ggtt.byteLength));
}

function writeDelta(f: FieldWriter, ggtt: Uint32Array, indices: readonly number[]): void {
  f.u32(indices.length);
  for (const i of indices)
    f.u32(i)
      .u32(ggtt[2 * i]!)
      .u32(ggtt[2 * i + 1]!);
}

/** A document of GGTT entries rewritten during PRE_COPY. */
export function encodeGgttDelta(ggtt: Uint32Array, indices: readonly number[]): Uint8Array {
  return new StateWriter().section("ggtt-delta", 1, (f) => writeDelta(f, ggtt, indices)).finish();
}

/** Bytes of a delta document for `n` entries. */
export function ggttDeltaBytes(n: number): number {
  return DOC_HEADER + 64 + 4 + 12 * n;
}

function pairs(f: FieldWriter, list: readonly (readonly [number, number])[]): void {
  f.u32(list.length);
  for (const [a, b] of list) f.u32(a).u32(b);
}

/**
 * The STOP_COPY document. `ggttDelta` is the list of entries still to send after a
 * precopy (undefined: send the whole GGTT). `version` 1 leaves partial PTEs out.
 */
export function encodeStopCopy(
  image: VgpuImage,
  ggttDelta: readonly number[] | undefined,
  docsBefore: number,
  version: number = STREAM_VERSION,
): Uint8Array {
  const w = new StateWriter({ maxSectionLength: MAX_SECTION });
  if (ggttDelta === undefined) w.section("ggtt", 1, (f) => writeGgtt(f, image.ggtt));
  else w.section("ggtt-delta", 1, (f) => writeDelta(f, image.ggtt, ggttDelta));
  w.section("cfg", 1, (f) => f.raw(image.cfg));
  w.section("sreg", 1, (f) => pairs(f, image.sreg));
  w.section("vreg", 1, (f) => pairs(f, image.vreg));
  w.section("fence", 1, (f) => pairs(f.u8(image.fences.length), image.fences));
  w.section("ppgtt", 1, (f) => {
    f.u8(image.mms.length);
    for (const mm of image.mms) {
      f.u8(mm.id).u8(mm.rootType);
      for (const p of mm.pdps) f.u64(p);
    }
  });
  w.section("execlist", 1, (f) => {
    f.u8(image.engines.length);
    for (const e of image.engines) {
      for (const d of e.elsp) f.u32(d);
      f.u8(e.elspIndex);
      for (const d of e.slots) f.u32(d);
      f.u8(e.csbWrite).u32(e.lastSubmittedSeq);
    }
  });
  w.section("workloads", 1, (f) => {
    f.u32(image.workloads.length);
    for (const wl of image.workloads) {
      f.u8(wl.engine);
      for (const d of wl.elsp) f.u32(d);
    }
  });
  w.section("display", 1, (f) => {
    f.u64(image.tick).u8(image.display.length);
    for (const p of image.display) f.u8(p.enabled ? 1 : 0).u32(p.vblankCount);
  });
  w.section("opregion", 1, (f) => f.raw(image.opregion), { optional: true });
  if (version >= 2)
    w.section("partial-ptes", 1, (f) => pairs(f, image.partialPtes), { optional: true });
  w.section("end", 1, (f) => f.u32(docsBefore + 1));
  return w.finish();
}

/** Upper bound of {@link encodeStopCopy}'s size for an image with these counts. */
export function stopCopyBound(
  t: VgpuType,
  counts: {
    vreg: number;
    sreg: number;
    mms: number;
    workloads: number;
    partial: number;
    delta?: number;
  },
): number {
  const sectionOverhead = 64;
  const ggtt = counts.delta === undefined ? 4 + 8 * ggttEntries(t) : 4 + 12 * counts.delta;
  return (
    DOC_HEADER +
    13 * sectionOverhead +
    ggtt +
    CFG_BYTES +
    8 +
    8 * (counts.vreg + counts.sreg) +
    5 +
    8 * t.fences +
    1 +
    34 * counts.mms +
    1 +
    54 * t.engines.length +
    4 +
    17 * counts.workloads +
    9 +
    5 * PIPES +
    OPREGION_BYTES +
    4 +
    8 * counts.partial +
    4
  );
}

/**
 * Splits a stream into its documents by their headers, checking each header's magic and
 * that its body is all there.
 */
export function splitDocs(bytes: Uint8Array): Uint8Array[] {
  const docs: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    const doc = docAt(bytes, at);
    if (doc === undefined) {
      throw new StateError(
        "EBADMSG",
        "STATE_HEADER",
        at,
        "truncated",
        `document at ${at} is cut short`,
      );
    }
    docs.push(doc);
    at += doc.byteLength;
  }
  return docs;
}

/**
 * Applies one `ggtt` (the whole table) or `ggtt-delta` (rewritten entries) section to
 * `ggtt`, the guest PTEs as (lo, hi) pairs; returns the table (new for `ggtt`). A delta's
 * entry indices are added to `written` when given.
 */
function readGgttSection(
  tag: "ggtt" | "ggtt-delta",
  f: FieldReader,
  t: VgpuType,
  ggtt: Uint32Array | undefined,
  written?: number[],
): Uint32Array {
  const entries = ggttEntries(t);
  if (tag === "ggtt") {
    const n = f.u32();
    if (n !== entries) throw bad("ggtt", "size", `GGTT of ${n} entries, ${t.name} has ${entries}`);
    if (ggtt) throw new StateError("EPROTO", "ggtt", 0, "duplicate-section", "ggtt appears twice");
    const table = new Uint32Array(entries * 2);
    new Uint8Array(table.buffer).set(f.raw(entries * 8));
    return table;
  }
  if (!ggtt) throw new StateError("EPROTO", "ggtt-delta", 0, "order", "GGTT delta before the GGTT");
  const n = f.u32();
  if (n > entries) throw bad("ggtt-delta", "count", `${n} entries exceed ${entries}`);
  for (let i = 0; i < n; i++) {
    const idx = f.u32();
    if (idx >= entries) throw bad("ggtt-delta", "index", `entry ${idx} outside ${entries}`);
    ggtt[2 * idx] = f.u32();
    ggtt[2 * idx + 1] = f.u32();
    written?.push(idx);
  }
  return ggtt;
}

/**
 * The GGTT after a precopy document (the whole table, or a delta over `ggtt`, written into
 * `ggtt`), or undefined when `doc` is not a precopy document: the final state carries more
 * than GGTT sections and is read whole by {@link decodeStream}. A delta's entry indices are
 * added to `written` when given.
 */
export function precopyGgtt(
  doc: Uint8Array,
  t: VgpuType,
  ggtt: Uint32Array | undefined,
  written?: number[],
): Uint32Array | undefined {
  const sections: StateSection[] = [];
  // The final document begins with a GGTT section too: its second section gives it away,
  // before the rest of it is read.
  for (const s of new Reader(doc, { sections: STOP_SECTIONS, maxSectionLength: MAX_SECTION })) {
    if (s.tag !== "ggtt" && s.tag !== "ggtt-delta") return undefined;
    sections.push(s);
  }
  let table = ggtt;
  for (const s of sections) {
    table = readGgttSection(s.tag as "ggtt" | "ggtt-delta", s.fields, t, table, written);
    // As strict as decodeStream, which skips the documents read here (DecodedPrefix).
    s.fields.end();
  }
  return table;
}

/**
 * The precopy documents a target already read with {@link precopyGgtt} as they arrived:
 * every document before byte `at` (a document boundary past the compat record), and the
 * GGTT they describe. {@link decodeStream} given one starts at `at` instead of decoding
 * those documents again — under a busy guest they are the whole GGTT and a delta a pass,
 * most of the stream — and writes the later GGTT entries into `ggtt` itself rather than
 * into a copy: the load runs while the VM is paused, and a fresh table of a GVTg_V5_4's
 * 163,840 entries is 1.25 MiB of memory to fault in. A prefix whose decode failed is
 * spent; the next decode takes the whole stream.
 */
export interface DecodedPrefix {
  /** Offset of the first document not read yet. */
  readonly at: number;
  /** The GGTT after the documents before `at`; the decode completes it in place. */
  readonly ggtt: Uint32Array;
}

/** A decoded stream: the image, the compat record, and what a prefix left to redo. */
export interface DecodedStream {
  readonly image: VgpuImage;
  readonly compat: CompatInfo;
  /**
   * With a {@link DecodedPrefix}: the GGTT entries the documents after it wrote (in stream
   * order, possibly repeated); every other entry is as the prefix had it. Absent without.
   */
  readonly ggttWritten?: readonly number[];
}

/** The complete document starting at `at`, or undefined if not all of it is there yet. */
export function docAt(bytes: Uint8Array, at: number): Uint8Array | undefined {
  if (bytes.byteLength - at < DOC_HEADER) return undefined;
  for (let i = 0; i < 4; i++) {
    if (bytes[at + i] !== MAGIC[i])
      throw new StateError("EBADMSG", "STATE_HEADER", at, "magic", "not a state document");
  }
  const body = new DataView(bytes.buffer, bytes.byteOffset + at, DOC_HEADER).getUint32(8, true);
  if (bytes.byteLength - at < DOC_HEADER + body) return undefined;
  return bytes.subarray(at, at + DOC_HEADER + body);
}

const STOP_SECTIONS = {
  ggtt: 1,
  "ggtt-delta": 1,
  cfg: 1,
  sreg: 1,
  vreg: 1,
  fence: 1,
  ppgtt: 1,
  execlist: 1,
  workloads: 1,
  display: 1,
  opregion: 1,
  "partial-ptes": 1,
  end: 1,
} as const;

/** Index of the document starting at byte `at`; EINVAL unless one past the compat record does. */
function docIndexAt(docs: readonly Uint8Array[], at: number): number {
  let offset = 0;
  for (let i = 0; i < docs.length; i++) {
    if (offset === at && i >= 1) return i;
    offset += docs[i]!.byteLength;
  }
  if (offset === at && docs.length >= 2) return docs.length;
  throw new MdevError("EINVAL", `gvt-g: no state document after the compat record starts at ${at}`);
}

/** Sections the final image cannot do without. */
const REQUIRED = [
  "cfg",
  "sreg",
  "vreg",
  "fence",
  "ppgtt",
  "execlist",
  "workloads",
  "display",
  "end",
];

function readPairs(s: FieldReader, tag: string, max: number): [number, number][] {
  const n = s.u32();
  if (n > max) throw new StateError("E2BIG", tag, 0, "count", `${n} entries exceed ${max}`);
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) out.push([s.u32(), s.u32()]);
  return out;
}

/**
 * Decodes and validates a whole stream for a vGPU of type `t` into an image. Nothing is
 * applied anywhere: the caller restores the result only if this returns. With `prefix`,
 * the precopy documents before `prefix.at` are taken as read (see {@link DecodedPrefix}).
 * @throws StateError (an MdevError) naming the section and rule on any problem.
 */
export function decodeStream(
  bytes: Uint8Array,
  t: VgpuType,
  prefix?: DecodedPrefix,
): DecodedStream {
  const docs = splitDocs(bytes);
  if (docs.length < 2)
    throw new StateError(
      "EBADMSG",
      "end",
      bytes.byteLength,
      "truncated",
      "the stream ends before its state",
    );
  const compat = decodeCompat(docs[0]!);
  const problem = compatProblem(compat, t);
  if (problem) throw new StateError("EPROTO", "compat", 0, "incompatible", problem);
  const entries = ggttEntries(t);
  const first = prefix === undefined ? 1 : docIndexAt(docs, prefix.at);
  // Read before `prefix.at` were GGTT sections alone, which leave no other state behind.
  let ggtt: Uint32Array | undefined = prefix?.ggtt;
  const written: number[] | undefined = prefix === undefined ? undefined : [];
  const seen = new Set<string>();
  const parts: Partial<Record<string, unknown>> = {};
  let ended = false;
  docs.forEach((doc, i) => {
    if (i < first) return;
    const d = i - 1;
    for (const s of new Reader(doc, { sections: STOP_SECTIONS, maxSectionLength: MAX_SECTION })) {
      const f = s.fields;
      if (ended)
        throw new StateError("EPROTO", s.tag, 0, "after-end", `section ${s.tag} after end`);
      if (s.tag !== "ggtt-delta" && s.tag !== "ggtt") {
        if (seen.has(s.tag))
          throw new StateError("EPROTO", s.tag, 0, "duplicate-section", `${s.tag} appears twice`);
        seen.add(s.tag);
      }
      switch (s.tag) {
        case "ggtt":
        case "ggtt-delta":
          ggtt = readGgttSection(s.tag, f, t, ggtt, written);
          break;
        case "cfg":
          parts["cfg"] = f.raw(CFG_BYTES).slice();
          break;
        case "sreg":
        case "vreg": {
          const list = readPairs(f, s.tag, MMIO_BYTES / 4);
          let last = -1;
          for (const [o] of list) {
            if (o % 4 !== 0 || o >= MMIO_BYTES || o <= last) {
              throw bad(
                s.tag,
                "offset",
                `register offset 0x${o.toString(16)} is unaligned, outside 2 MiB or out of order`,
              );
            }
            last = o;
          }
          parts[s.tag] = list;
          break;
        }
        case "fence": {
          const n = f.u8();
          if (n !== t.fences) throw bad("fence", "count", `${n} fences, ${t.name} has ${t.fences}`);
          parts["fence"] = readPairs(f, "fence", t.fences);
          break;
        }
        case "ppgtt": {
          const n = f.u8();
          if (n > t.maxPpgttMms) throw bad("ppgtt", "count", `${n} mms exceed ${t.maxPpgttMms}`);
          const mms: MmImage[] = [];
          for (let i = 0; i < n; i++) {
            const id = f.u8();
            const rootType = f.u8();
            const pdps = [0, 1, 2, 3].map(() => safe(f.u64(), "ppgtt", "pdp"));
            if (id >= t.maxPpgttMms || mms.some((m) => m.id === id))
              throw bad("ppgtt", "id", `mm ${id} is out of range or repeated`);
            if (rootType !== 3 && rootType !== 4)
              throw bad("ppgtt", "root-type", `root type ${rootType}`);
            if (pdps.some((p) => p % 4096 !== 0))
              throw bad("ppgtt", "pdp", `mm ${id} has an unaligned root`);
            mms.push({ id, rootType, pdps });
          }
          parts["ppgtt"] = mms;
          break;
        }
        case "execlist": {
          const n = f.u8();
          if (n !== t.engines.length)
            throw bad("execlist", "count", `${n} engines, ${t.name} has ${t.engines.length}`);
          const engines: EngineImage[] = [];
          for (let i = 0; i < n; i++) {
            const elsp = [f.u32(), f.u32(), f.u32(), f.u32()];
            const elspIndex = f.u8();
            const slots = Array.from({ length: 8 }, () => f.u32());
            const csbWrite = f.u8();
            const lastSubmittedSeq = f.u32();
            if (elspIndex > 3 || csbWrite > 5)
              throw bad(
                "execlist",
                "pointer",
                `engine ${i}: ELSP index ${elspIndex}, CSB pointer ${csbWrite}`,
              );
            engines.push({ elsp, elspIndex, slots, csbWrite, lastSubmittedSeq });
          }
          parts["execlist"] = engines;
          break;
        }
        case "workloads": {
          const n = f.u32();
          if (n > 4096) throw bad("workloads", "count", `${n} queued workloads`);
          const list: WorkloadImage[] = [];
          for (let i = 0; i < n; i++) {
            const engine = f.u8();
            const elsp = [f.u32(), f.u32(), f.u32(), f.u32()];
            if (engine >= t.engines.length) throw bad("workloads", "engine", `engine ${engine}`);
            if ((elsp[3]! & 1) === 0 || elsp[3]! >>> 12 >= entries) {
              throw bad(
                "workloads",
                "descriptor",
                `workload ${i} has an invalid context descriptor`,
              );
            }
            list.push({ engine, elsp });
          }
          parts["workloads"] = list;
          break;
        }
        case "display": {
          const tick = safe(f.u64(), "display", "tick");
          const n = f.u8();
          if (n !== PIPES) throw bad("display", "count", `${n} pipes, expected ${PIPES}`);
          const pipes: PipeImage[] = [];
          for (let i = 0; i < n; i++) {
            const en = f.u8();
            if (en > 1) throw bad("display", "enabled", `pipe ${i} enabled=${en}`);
            pipes.push({ enabled: en === 1, vblankCount: f.u32() });
          }
          parts["display"] = { tick, pipes };
          break;
        }
        case "opregion":
          parts["opregion"] = f.raw(OPREGION_BYTES).slice();
          break;
        case "partial-ptes": {
          const list = readPairs(f, "partial-ptes", entries);
          if (list.some(([i]) => i >= entries))
            throw bad("partial-ptes", "index", "partial PTE outside the GGTT");
          parts["partial-ptes"] = list;
          break;
        }
        case "end": {
          const n = f.u32();
          if (n !== docs.length || d !== docs.length - 2) {
            throw new StateError(
              "EBADMSG",
              "end",
              0,
              "documents",
              `end counts ${n} documents, the stream has ${docs.length}`,
            );
          }
          ended = true;
          break;
        }
      }
      f.end();
    }
  });
  for (const tag of REQUIRED) {
    if (!seen.has(tag))
      throw new StateError(
        "EBADMSG",
        tag,
        bytes.byteLength,
        "missing",
        `section ${tag} is missing`,
      );
  }
  if (!ggtt)
    throw new StateError("EBADMSG", "ggtt", bytes.byteLength, "missing", "section ggtt is missing");
  const vreg = parts["vreg"] as [number, number][];
  const get = (o: number) => vreg.find(([k]) => k === o)?.[1] ?? 0;
  const fences = parts["fence"] as [number, number][];
  fences.forEach(([lo, hi], i) => {
    if (get(0x100000 + 8 * i) !== lo || get(0x100004 + 8 * i) !== hi) {
      throw bad("fence", "consistency", `fence ${i} differs from its register in vreg`);
    }
  });
  const display = parts["display"] as { tick: number; pipes: PipeImage[] };
  display.pipes.forEach((p, i) => {
    const conf = get(0x70008 + 0x1000 * i);
    if (p.enabled !== ((conf & 0x8000_0000) !== 0) || p.vblankCount !== get(0x70040 + 0x1000 * i)) {
      throw bad("display", "consistency", `pipe ${i} differs from PIPECONF/PIPE_FRMCOUNT in vreg`);
    }
  });
  const image: VgpuImage = {
    tick: display.tick,
    cfg: parts["cfg"] as Uint8Array,
    vreg,
    sreg: parts["sreg"] as [number, number][],
    ggtt,
    partialPtes: (parts["partial-ptes"] as [number, number][] | undefined) ?? [],
    fences,
    mms: parts["ppgtt"] as MmImage[],
    engines: parts["execlist"] as EngineImage[],
    workloads: parts["workloads"] as WorkloadImage[],
    display: display.pipes,
    opregion: (parts["opregion"] as Uint8Array | undefined) ?? new Uint8Array(OPREGION_BYTES),
  };
  return written === undefined ? { image, compat } : { image, compat, ggttWritten: written };
}

/** Rewrites the compat record of `stream` to claim stream `version` (tests, conformance). */
export function withStreamVersion(stream: Uint8Array, version: number): Uint8Array {
  const docs = splitDocs(stream);
  const c = decodeCompat(docs[0]!);
  const head = encodeCompat({ ...c, streamVersion: version });
  const out = new Uint8Array(head.byteLength + stream.byteLength - docs[0]!.byteLength);
  out.set(head);
  out.set(stream.subarray(docs[0]!.byteLength), head.byteLength);
  return out;
}
