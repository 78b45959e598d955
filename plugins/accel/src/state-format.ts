/**
 * The accelerator's migration stream: two StateWriter images back to back.
 *
 * 1. The compat image (section `accel.compat`, see compat.ts) — PRE_COPY's initial data,
 *    checked by the target as soon as it is complete.
 * 2. The state image (section `accel.state`), written at STOP_COPY:
 *    - **v2**: `qmState u8, pendingIrq u8` and, when READY: six register u32s, the DMA
 *      window (u64 base, u64 bytes), EQ and AEQ rings, SQC/CQC table bases (u64), then per
 *      queue pair `qpn u32, sq ring, cq ring, arbEnable u8, inFlightAtStop u32 (= 0)`.
 *      A ring is `base u64, depth u32, head u32, tail u32, flags u8 (full | phase << 1)`.
 *    - **v1** (hisi `ACC_DEV_MAGIC_V1`): the same, but each event-queue ring is followed
 *      by its seven EQC dwords, and the ring's base was composed from the wrong dwords
 *      (`dw[1] << 32 | dw[0]`). A target either recomputes it from `dw[2] << 32 | dw[1]`
 *      (the fix-up) or refuses the stream, by policy.
 *    A NOT_READY device (no guest driver ever loaded) carries only `qmState, pendingIrq`.
 *
 * Decoding validates every field against the target device's profile and guest RAM into
 * new objects; nothing is applied until the whole stream checked out.
 */
import {
  type FieldReader,
  type FieldWriter,
  MdevError,
  StateReader,
  StateWriter,
} from "@mdevkit/core";
import {
  type AccelCompat,
  type CompatJudge,
  decodeCompat,
  incompatibility,
  streamVersionOf,
} from "./compat.js";
import {
  type AccelDeviceState,
  eqcDwords,
  fixedBase,
  POWER_ON_REGS,
  type QmRegs,
  QmState,
  type QpState,
  v1BuggyBase,
} from "./device-state.js";
import { CQE_BYTES, EQE_BYTES, QC_BYTES } from "./layout.js";
import type { RingState } from "./ring.js";

/** Section tag of the device state. */
export const STATE_TAG = "accel.state";
/** Newest state section version this build reads and, by default, writes. */
export const STATE_VERSION = 2;
/** Bytes of a state image's header (StateWriter): magic, format, reserved, body length. */
const IMAGE_HEADER = 12;
/** Largest compat image accepted (it is ~100 bytes). */
export const MAX_COMPAT_IMAGE = 1024;

const REG_ORDER: readonly (keyof QmRegs)[] = [
  "eqIntMask",
  "aeqIntMask",
  "pfvfIntSource",
  "pfvfIntMask",
  "pfvfIntSet",
  "pageSize",
];

function bad(msg: string): never {
  throw new MdevError("EINVAL", `accel stream: ${msg}`);
}

function writeRing(f: FieldWriter, r: RingState, base: bigint | number = r.baseGpa): void {
  f.u64(base)
    .u32(r.depth)
    .u32(r.head)
    .u32(r.tail)
    .u8((r.full ? 1 : 0) | ((r.phase & 1) << 1));
}

function readRing(f: FieldReader): RingState & { rawBase: bigint } {
  const rawBase = f.u64();
  const baseGpa =
    rawBase > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(rawBase);
  const depth = f.u32();
  const head = f.u32();
  const tail = f.u32();
  const flags = f.u8();
  if (flags > 3) bad(`ring flags 0x${flags.toString(16)} have unknown bits`);
  return { rawBase, baseGpa, depth, head, tail, full: (flags & 1) !== 0, phase: (flags >>> 1) & 1 };
}

/** Encodes the state image of `s` at section version `version`. */
export function encodeState(s: AccelDeviceState, version: 1 | 2): Uint8Array {
  return new StateWriter()
    .section(STATE_TAG, version, (f) => {
      f.u8(s.qmState).u8((s.pendingIrq.eq ? 1 : 0) | (s.pendingIrq.aeq ? 2 : 0));
      if (s.qmState !== QmState.READY) return;
      for (const r of REG_ORDER) f.u32(s.regs[r]);
      f.u64(s.window.base).u64(s.window.bytes);
      for (const eq of [s.eq, s.aeq]) {
        if (version === 1) {
          const dw = eqcDwords(eq);
          writeRing(f, eq, v1BuggyBase(dw));
          for (const d of dw) f.u32(d);
        } else writeRing(f, eq);
      }
      f.u64(s.sqcTableGpa).u64(s.cqcTableGpa).u32(s.qps.length);
      for (const q of s.qps) {
        f.u32(q.qpn);
        writeRing(f, q.sq);
        writeRing(f, q.cq);
        f.u8(q.arbEnable ? 1 : 0).u32(0);
      }
    })
    .finish();
}

/** Length of the StateWriter image starting at `bytes[0]`, once its header has arrived. */
export function imageLength(bytes: Uint8Array): number | undefined {
  if (bytes.byteLength < IMAGE_HEADER) return undefined;
  const body = new DataView(bytes.buffer, bytes.byteOffset, IMAGE_HEADER).getUint32(8, true);
  return IMAGE_HEADER + body;
}

/** What the target knows when decoding: its identity, policy and guest RAM size. */
export interface DecodeContext extends CompatJudge {
  /** Guest RAM size: every address must fall inside it. */
  readonly guestBytes: number;
}

/** A decoded stream. */
export interface DecodedStream {
  /** The compat record. */
  readonly compat: AccelCompat;
  /** Section version of the state image. */
  readonly version: number;
  /** Whether a v1 stream's event-queue bases were recomputed. */
  readonly fixedUp: boolean;
  /** The validated state, ready to apply. */
  readonly state: AccelDeviceState;
}

/**
 * Checks the compat image at the start of `bytes` against `ctx` as soon as it is complete;
 * refuses a foreign stream from its first four bytes. Used on resuming writes until it
 * returns true: the compat image arrived whole and this device accepts it.
 * @throws MdevError (EINVAL, or a StateError) on the first fault.
 */
export function checkPrefix(bytes: Uint8Array, ctx: DecodeContext): boolean {
  const image = compatImage(bytes);
  if (image === undefined) return false;
  judgedCompat(image, ctx);
  return true;
}

/**
 * The compat image at the start of `bytes`, or undefined until all of it arrived; refuses
 * a foreign magic or an oversized image from the first bytes that show it.
 */
function compatImage(bytes: Uint8Array): Uint8Array | undefined {
  const magic = [0x4d, 0x44, 0x53, 0x54];
  for (let i = 0; i < Math.min(4, bytes.byteLength); i++)
    if (bytes[i] !== magic[i]) bad("not a state image (bad magic in the compat record)");
  const len = imageLength(bytes);
  if (len === undefined) return undefined;
  if (len > MAX_COMPAT_IMAGE) bad(`compat image of ${len} bytes exceeds ${MAX_COMPAT_IMAGE}`);
  return bytes.byteLength < len ? undefined : bytes.subarray(0, len);
}

/** The compat record of `image`, decoded, once `ctx` accepts it. */
function judgedCompat(image: Uint8Array, ctx: DecodeContext): AccelCompat {
  const compat = decodeCompat(image);
  const why = incompatibility(compat, ctx);
  if (why !== undefined) bad(`incompatible device: ${why}`);
  return compat;
}

/**
 * Decodes and validates a whole stream (compat image then state image).
 * @throws MdevError EINVAL (or a StateError) naming the first fault; nothing is applied.
 */
export function decodeStream(bytes: Uint8Array, ctx: DecodeContext): DecodedStream {
  const image = compatImage(bytes);
  if (image === undefined) bad("truncated compat record");
  const compat = judgedCompat(image, ctx);
  const rest = bytes.subarray(image.byteLength);
  const stateLen = imageLength(rest);
  if (stateLen === undefined) bad("state image missing");
  if (stateLen !== rest.byteLength)
    bad(`state image is ${rest.byteLength} bytes, its header says ${stateLen}`);
  const sections = new StateReader(rest, { sections: { [STATE_TAG]: STATE_VERSION } }).toMap();
  const sec = sections.get(STATE_TAG);
  if (sec === undefined) bad("no accel.state section");
  const announced = streamVersionOf(compat);
  if (announced !== sec.version)
    bad(`compat magic announces stream v${announced}, the state section is v${sec.version}`);
  let fixedUp = false;
  const f = sec.fields;
  const qmState = f.u8();
  const irq = f.u8();
  if (qmState !== QmState.READY && qmState !== QmState.NOT_READY) bad(`qmState ${qmState}`);
  if (irq > 3) bad(`pendingIrq 0x${irq.toString(16)} has unknown bits`);
  const pendingIrq = { eq: (irq & 1) !== 0, aeq: (irq & 2) !== 0 };
  if (qmState === QmState.NOT_READY) {
    f.end();
    return { compat, version: sec.version, fixedUp, state: notReadyState(ctx, pendingIrq) };
  }
  const regs = Object.fromEntries(REG_ORDER.map((r) => [r, f.u32()])) as unknown as QmRegs;
  const window = { base: Number(f.u64()), bytes: Number(f.u64()) };
  if (
    window.base % 4096 !== 0 ||
    window.bytes % 4096 !== 0 ||
    window.bytes === 0 ||
    window.base + window.bytes > ctx.guestBytes
  )
    bad(
      `DMA window 0x${window.base.toString(16)}+0x${window.bytes.toString(16)} outside guest RAM`,
    );
  const inWindow = (gpa: number, n: number) =>
    Number.isSafeInteger(gpa) && gpa >= window.base && gpa + n <= window.base + window.bytes;
  const eventQueue = (name: string, maxDepth: number): RingState => {
    const { rawBase, ...read } = readRing(f);
    let r: RingState = read;
    if (sec.version === 1) {
      const dw = Array.from({ length: 7 }, () => f.u32());
      if (v1BuggyBase(dw) !== rawBase) bad(`${name}: v1 base does not match its dwords`);
      if (dw[3] !== r.depth || dw[4] !== r.head || dw[5] !== r.tail)
        bad(`${name}: v1 dwords disagree with the ring`);
      r = { ...r, baseGpa: fixedBase(dw) };
      fixedUp = true;
    }
    if (r.depth < 2 || r.depth > maxDepth) bad(`${name} depth ${r.depth} outside 2..${maxDepth}`);
    checkPointers(name, r);
    if (!inWindow(r.baseGpa, r.depth * EQE_BYTES)) bad(`${name} base outside the DMA window`);
    return r;
  };
  const eq = eventQueue("EQ", ctx.profile.eqDepth);
  const aeq = eventQueue("AEQ", ctx.profile.aeqDepth);
  const sqcTableGpa = Number(f.u64());
  const cqcTableGpa = Number(f.u64());
  const tableBytes = ctx.profile.qpNum * QC_BYTES;
  if (!inWindow(sqcTableGpa, tableBytes) || !inWindow(cqcTableGpa, tableBytes))
    bad("queue-context tables outside the DMA window");
  const n = f.u32();
  if (n !== ctx.profile.qpNum) bad(`${n} queue pairs, this device has ${ctx.profile.qpNum}`);
  const qps: QpState[] = [];
  for (let i = 0; i < n; i++) {
    const qpn = f.u32();
    if (qpn !== i) bad(`queue pair ${i} is numbered ${qpn}`);
    const { rawBase: _sqRaw, ...sq } = readRing(f);
    const { rawBase: _cqRaw, ...cq } = readRing(f);
    const arb = f.u8();
    const inFlight = f.u32();
    if (arb > 1) bad(`queue ${i} arbEnable ${arb}`);
    if (inFlight !== 0) bad(`queue ${i} has ${inFlight} jobs in flight at stop (must be 0)`);
    for (const [r, name, entry] of [
      [sq, "SQ", ctx.personality.sqeBytes],
      [cq, "CQ", CQE_BYTES],
    ] as const) {
      if (r.depth !== ctx.profile.depth) bad(`queue ${i} ${name} depth ${r.depth}`);
      checkPointers(`queue ${i} ${name}`, r);
      const unused = r.baseGpa === 0 && r.head === 0 && r.tail === 0 && !r.full && arb === 0;
      if (!unused && !inWindow(r.baseGpa, r.depth * entry))
        bad(`queue ${i} ${name} base outside the DMA window`);
    }
    qps.push({ qpn, sq, cq, arbEnable: arb === 1 });
  }
  f.end();
  return {
    compat,
    version: sec.version,
    fixedUp,
    state: { qmState, regs, window, eq, aeq, sqcTableGpa, cqcTableGpa, qps, pendingIrq },
  };
}

function checkPointers(name: string, r: RingState): void {
  if (r.head >= r.depth || r.tail >= r.depth)
    bad(`${name} pointers ${r.head}/${r.tail} outside depth ${r.depth}`);
  if (r.full && r.head !== r.tail) bad(`${name} marked full with head ${r.head} != tail ${r.tail}`);
}

/** The state of a device no guest driver set up (what a NOT_READY stream restores to). */
export function notReadyState(
  ctx: Pick<DecodeContext, "profile">,
  pendingIrq: { eq: boolean; aeq: boolean },
): AccelDeviceState {
  const ring = (depth: number): RingState => ({
    baseGpa: 0,
    depth,
    head: 0,
    tail: 0,
    full: false,
    phase: 1,
  });
  return {
    qmState: QmState.NOT_READY,
    regs: { ...POWER_ON_REGS },
    window: { base: 0, bytes: 0 },
    eq: ring(1),
    aeq: ring(1),
    sqcTableGpa: 0,
    cqcTableGpa: 0,
    qps: Array.from({ length: ctx.profile.qpNum }, (_, qpn) => ({
      qpn,
      sq: ring(ctx.profile.depth),
      cq: ring(ctx.profile.depth),
      arbEnable: false,
    })),
    pendingIrq,
  };
}

/**
 * Rewrites the state image of a whole stream (compat image + state image) so its
 * `accel.state` section carries `version` with the same payload: what a newer (or
 * older) build would send. For version-skew tests.
 */
export function rewriteStateVersion(stream: Uint8Array, version: number): Uint8Array {
  const compatLen = imageLength(stream);
  if (compatLen === undefined) bad("no compat image");
  const sec = new StateReader(stream.subarray(compatLen), {
    sections: { [STATE_TAG]: 0xffff },
  })
    .toMap()
    .get(STATE_TAG);
  if (sec === undefined) bad("no accel.state section");
  const payload = sec.fields.raw(sec.fields.remaining).slice();
  const image = new StateWriter().section(STATE_TAG, version, (f) => f.raw(payload)).finish();
  const out = new Uint8Array(compatLen + image.byteLength);
  out.set(stream.subarray(0, compatLen));
  out.set(image, compatLen);
  return out;
}
