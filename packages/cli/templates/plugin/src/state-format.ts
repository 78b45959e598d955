/**
 * The migration image: two core state streams (`StateWriter` / `StateReader`) back to back.
 *
 * 1. **Identity** — one section `ident` v1: device type (string) and {@link STREAM_MAJOR}
 *    (u16). Sent first, as PRE_COPY initial data, so the target refuses a foreign stream
 *    on its first bytes instead of after the source stopped. The same bytes are the
 *    handshake's compatibility data (`compatibility.ts`).
 * 2. **State** — sections `regs` v1 (ctrl, status, scratch: u32 each) and `ring` v1
 *    (base u64, entries u32, head u32, counter u32), sent in STOP_COPY.
 *
 * Core frames each stream (magic, format version, body length) and each section (tag,
 * version, flags, length, CRC32C), so a flipped bit anywhere is refused and a section
 * newer than this reader knows is refused by name. Evolving the format:
 * - change a section's layout: bump its version below and read both versions;
 * - add data an old target can live without: a new section written with `{ optional: true }`;
 * - anything an old target cannot load: bump {@link STREAM_MAJOR}, so the handshake
 *   refuses before the source stops.
 *
 * Config space is not here: the VMM saves and restores it itself.
 */
import { MdevError, StateReader, StateWriter } from "@mdevkit/core";
import { CTRL_MASK, type DeviceState, MAX_RING_ENTRIES, STATUS_MASK } from "./device.js";

/** Image generation; the target reads only its own. */
export const STREAM_MAJOR = 1;

/** Newest version of each section this build writes and reads. */
export const SECTION_VERSIONS = { ident: 1, regs: 1, ring: 1 } as const;

/** What the identity stream says. */
export interface Identity {
  readonly deviceType: string;
  readonly major: number;
}

/** The identity stream for `deviceType` (the PRE_COPY header and the compatibility data). */
export function encodeIdentity(deviceType: string, major: number = STREAM_MAJOR): Uint8Array {
  return new StateWriter()
    .section("ident", SECTION_VERSIONS.ident, (f) => f.string(deviceType).u16(major))
    .finish();
}

/** Exact size of the identity stream of `deviceType`. */
export function identityBytes(deviceType: string): number {
  return encodeIdentity(deviceType).byteLength;
}

/**
 * Decodes an identity stream (exactly one `ident` section).
 * @throws StateError (an `MdevError`) for damaged or unknown framing; MdevError EPROTO when
 *   the section is missing.
 */
export function decodeIdentity(bytes: Uint8Array): Identity {
  const ident = new StateReader(bytes, { sections: { ident: SECTION_VERSIONS.ident } })
    .toMap()
    .get("ident");
  if (ident === undefined) throw new MdevError("EPROTO", "identity stream has no ident section");
  const deviceType = ident.fields.string(128);
  const major = ident.fields.u16();
  ident.fields.end();
  return { deviceType, major };
}

/**
 * Checks that `bytes` is the identity of a `deviceType` device of this stream major.
 * @throws MdevError (EBADMSG/EPROTO from the framing, EPROTO for a mismatch).
 */
export function checkIdentity(bytes: Uint8Array, deviceType: string): void {
  const id = decodeIdentity(bytes);
  if (id.major !== STREAM_MAJOR) {
    throw new MdevError(
      "EPROTO",
      `stream major ${id.major}, this plugin reads only ${STREAM_MAJOR}`,
    );
  }
  if (id.deviceType !== deviceType) {
    throw new MdevError(
      "EPROTO",
      `stream is from a "${id.deviceType}" device, this one is "${deviceType}"`,
    );
  }
}

/** The state stream (STOP_COPY data) of `s`. */
export function encodeState(s: DeviceState): Uint8Array {
  return new StateWriter()
    .section("regs", SECTION_VERSIONS.regs, (f) => f.u32(s.ctrl).u32(s.status).u32(s.scratch))
    .section("ring", SECTION_VERSIONS.ring, (f) =>
      f.u64(s.ringBase).u32(s.ringEntries).u32(s.ringHead).u32(s.counter),
    )
    .finish();
}

/**
 * Decodes and range-checks a state stream into a new object; the caller applies it only
 * when this returns, so a bad stream changes nothing.
 * @throws MdevError for damaged framing, a missing section or a value out of range.
 */
export function decodeState(bytes: Uint8Array): DeviceState {
  const sections = new StateReader(bytes, {
    sections: { regs: SECTION_VERSIONS.regs, ring: SECTION_VERSIONS.ring },
  }).toMap();
  const regs = sections.get("regs");
  const ring = sections.get("ring");
  if (regs === undefined || ring === undefined) {
    throw new MdevError("EPROTO", "state stream lacks its regs or ring section");
  }
  const s: DeviceState = {
    ctrl: regs.fields.u32(),
    status: regs.fields.u32(),
    scratch: regs.fields.u32(),
    ringBase: 0,
    ringEntries: 0,
    ringHead: 0,
    counter: 0,
  };
  regs.fields.end();
  const base = ring.fields.u64();
  s.ringEntries = ring.fields.u32();
  s.ringHead = ring.fields.u32();
  s.counter = ring.fields.u32();
  ring.fields.end();
  const bad = (what: string): never => {
    throw new MdevError("EINVAL", `state stream: ${what}`);
  };
  if ((s.ctrl & ~CTRL_MASK) !== 0) bad(`ctrl 0x${s.ctrl.toString(16)} has undefined bits`);
  if ((s.status & ~STATUS_MASK) !== 0) bad(`status 0x${s.status.toString(16)} has undefined bits`);
  if (base > BigInt(Number.MAX_SAFE_INTEGER)) bad(`ring base 0x${base.toString(16)} beyond 2^53`);
  s.ringBase = Number(base);
  if (s.ringEntries > MAX_RING_ENTRIES) bad(`ring of ${s.ringEntries} entries`);
  if (s.ringEntries === 0 ? s.ringHead !== 0 : s.ringHead >= s.ringEntries) {
    bad(`ring head ${s.ringHead} outside a ring of ${s.ringEntries}`);
  }
  return s;
}

/** Exact size of every state stream (all fields are fixed-width). */
export const STATE_BYTES: number = encodeState({
  ctrl: 0,
  status: 0,
  scratch: 0,
  ringBase: 0,
  ringEntries: 0,
  ringHead: 0,
  counter: 0,
}).byteLength;

/**
 * Splits a whole image into its identity and state streams, using the target's own
 * identity size: a stream whose identity differs in length fails the identity check.
 */
export function splitImage(
  bytes: Uint8Array,
  deviceType: string,
): { identity: Uint8Array; state: Uint8Array } {
  const n = identityBytes(deviceType);
  return { identity: bytes.subarray(0, n), state: bytes.subarray(n) };
}
