/**
 * The sriov-nic device stream, version 1: a sequence of core state images
 * (`StateWriter` streams, each self-delimiting by its header's body length).
 *
 * | image | when | sections |
 * |---|---|---|
 * | compat | first: PRE_COPY initial data, or the start of STOP_COPY | `compat`, `pf-config` (optional) |
 * | config | PRE_COPY (initial, then again whenever filters or RSS change) | `image`{kind 1}, `filters`, `rss` |
 * | final | STOP_COPY | `image`{kind 2}, `clock`, `queues`, `irq`, `stats`, `mailbox`, `link`, plus `filters`/`rss` unless the last config image already has them |
 *
 * A later copy of a section replaces an earlier one (mlx5's incremental images). The
 * target checks the compat image as soon as it has arrived, then decodes everything into
 * a fresh state and applies it only when the final image is complete and valid.
 * `pf-config` is verification-only: the target's PF is provisioned, not restored.
 * The MSI-X table and PBA are not here: the VMM's config state carries them.
 */
import { MdevError, StateError, StateReader, type StateSection, StateWriter } from "@mdevkit/core";
import {
  type Filters,
  type Irq,
  type Link,
  type Mailbox,
  type MailboxInFlight,
  type NicState,
  type Rss,
  type RxQueue,
  ringDescs,
  STAT_NAMES,
  type Stats,
  type TxQueue,
} from "./nic-state.js";
import type { PfPolicy } from "./pf-policy.js";
import {
  MAX_EITR_TICKS,
  MAX_MC_ENTRIES,
  MBX_WORDS,
  RETA_ENTRIES,
  RSS_KEY_BYTES,
  VF_MSIX_VECTORS,
} from "./regs.js";

/** Version of the stream layout (the `compat` section's major). */
export const STREAM_MAJOR = 1;
/** Minor version: readers accept any minor of their major (new data goes in optional sections). */
export const STREAM_MINOR = 0;
/** Largest image a target accepts (bytes): far above a real one, far below harm. */
export const MAX_IMAGE_BYTES = 64 * 1024;
/** Header bytes of a core state image. */
const IMAGE_HEADER = 12;

/** Section versions this build writes and reads. */
export const SECTION_VERSIONS = {
  compat: 1,
  "pf-config": 1,
  image: 1,
  clock: 1,
  queues: 1,
  filters: 1,
  rss: 1,
  irq: 1,
  stats: 1,
  mailbox: 1,
  link: 1,
} as const;

/** What the target must support to take the device (the `compat` section). */
export interface CompatInfo {
  readonly major: number;
  readonly minor: number;
  readonly vendorId: number;
  readonly deviceId: number;
  readonly queuePairs: number;
  readonly rssKeyBytes: number;
  readonly retaEntries: number;
  readonly msixVectors: number;
  readonly mbxApi: number;
  readonly features: number;
}

/** Image kinds. */
export const ImageKind = { CONFIG: 1, FINAL: 2 } as const;

function refuse(tag: string, rule: string, detail: string): never {
  throw new StateError("EBADMSG", tag, 0, rule, `sriov-nic: ${detail}`);
}

// ---- encoders ----

function writePf(w: StateWriter, pf: PfPolicy): void {
  w.section(
    "pf-config",
    1,
    (f) =>
      f
        .u64(pf.adminMac)
        .u16(pf.portVlan)
        .u8(pf.spoofChk ? 1 : 0)
        .u8(pf.trust ? 1 : 0),
    { optional: true },
  );
}

/** The compat image: what `compatibilityData()` returns and what the stream starts with. */
export function encodeCompatImage(info: CompatInfo, pf: PfPolicy): Uint8Array {
  const w = new StateWriter();
  w.section("compat", 1, (f) =>
    f
      .u16(info.major)
      .u16(info.minor)
      .u16(info.vendorId)
      .u16(info.deviceId)
      .u8(info.queuePairs)
      .u8(info.rssKeyBytes)
      .u8(info.retaEntries)
      .u8(info.msixVectors)
      .u16(info.mbxApi)
      .u32(info.features),
  );
  writePf(w, pf);
  return w.finish();
}

function writeFilters(w: StateWriter, f: Filters): void {
  w.section("filters", 1, (o) => {
    o.u64(f.mac).u8(f.mcHashes.length);
    for (const h of f.mcHashes) o.u16(h);
    o.raw(f.vlans).u8((f.promiscUc ? 1 : 0) | (f.promiscMc ? 2 : 0));
  });
}

function writeRss(w: StateWriter, r: Rss): void {
  w.section("rss", 1, (o) => o.raw(r.key).raw(r.reta).u32(r.mrqc));
}

/** A config image (PRE_COPY): filters and RSS, the state a guest changes rarely. */
export function encodeConfigImage(s: NicState): Uint8Array {
  const w = new StateWriter();
  w.section("image", 1, (f) => f.u8(ImageKind.CONFIG));
  writeFilters(w, s.filters);
  writeRss(w, s.rss);
  return w.finish();
}

/**
 * The final image (STOP_COPY); `withConfig` false leaves out filters and RSS the target
 * already has. `estimate` sizes it for a running device, whose partial packets the stop
 * has not resolved yet (they encode the same size either way).
 */
export function encodeFinalImage(
  s: NicState,
  pf: PfPolicy,
  withConfig: boolean,
  estimate = false,
): Uint8Array {
  const w = new StateWriter();
  w.section("image", 1, (f) => f.u8(ImageKind.FINAL));
  w.section("clock", 1, (f) => f.u64(s.now).u32(s.ctrl));
  w.section("queues", 1, (f) => {
    for (const r of s.rx) {
      f.u64(r.baseGpa)
        .u32(r.lenBytes)
        .u16(r.head)
        .u16(r.tail)
        .u8(r.enabled ? 1 : 0)
        .u32(r.srrctl)
        .u32(r.rqdpc);
    }
    for (const t of s.tx) {
      f.u64(t.baseGpa)
        .u32(t.lenBytes)
        .u16(t.head)
        .u16(t.tail)
        .u8(t.enabled ? 1 : 0)
        .u64(t.headWb);
      for (const c of t.ctx) for (const word of c) f.u32(word);
      const p = t.partial;
      if (p === null) f.u8(0);
      else {
        if (p.policy !== "drop" && !estimate)
          throw new MdevError(
            "EIO",
            "sriov-nic bug: a packet still gathering at save (the stop must resolve it)",
          );
        f.u8(1).u16(p.firstDesc).u16(p.descs).u32(p.bytes);
      }
    }
  });
  if (withConfig) {
    writeFilters(w, s.filters);
    writeRss(w, s.rss);
  }
  w.section("irq", 1, (f) => {
    const i = s.irq;
    f.u8(i.eicr).u8(i.eims).u8(i.eiac).u8(i.eiam);
    for (const e of i.eitr) f.u16(e);
    f.u32(i.ivar0).u8(i.ivarMisc);
    for (const t of i.lastMsi) f.u64(t + 1);
    f.u8(i.pending);
  });
  w.section("stats", 1, (f) => {
    for (const n of STAT_NAMES) f.u64(s.stats[n]);
  });
  w.section("mailbox", 1, (f) => {
    f.u8(s.mailbox.ctrl);
    for (const word of s.mailbox.mem) f.u32(word);
    f.u8(IN_FLIGHT.indexOf(s.mailbox.inFlight)).u64(s.mailbox.reqTick);
  });
  w.section("link", 1, (f) => f.u8(s.link.up ? 1 : 0).u16(s.link.speedMbps));
  writePf(w, pf);
  return w.finish();
}

const IN_FLIGHT: readonly MailboxInFlight[] = ["none", "vf-to-pf", "pf-to-vf"];

// ---- splitting ----

/**
 * Length of the image starting at `bytes[0]`, or `undefined` when its header has not
 * fully arrived. @throws StateError for a header that is not a state image or too long.
 */
export function imageLength(bytes: Uint8Array): number | undefined {
  if (bytes.byteLength < IMAGE_HEADER) return undefined;
  if (bytes[0] !== 0x4d || bytes[1] !== 0x44 || bytes[2] !== 0x53 || bytes[3] !== 0x54)
    throw new StateError("EBADMSG", "STATE_HEADER", 0, "magic", "sriov-nic: not a state image");
  const body = new DataView(bytes.buffer, bytes.byteOffset, IMAGE_HEADER).getUint32(8, true);
  if (body > MAX_IMAGE_BYTES)
    throw new StateError(
      "E2BIG",
      "STATE_HEADER",
      8,
      "image-length",
      `sriov-nic: image of ${body} bytes exceeds ${MAX_IMAGE_BYTES}`,
    );
  return IMAGE_HEADER + body;
}

/** Splits a whole stream into its images. @throws StateError when the last one is cut short. */
export function splitImages(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    const len = imageLength(bytes.subarray(at));
    if (len === undefined || at + len > bytes.byteLength)
      throw new StateError(
        "EBADMSG",
        "STATE_HEADER",
        at,
        "truncated",
        "sriov-nic: stream ends inside an image",
      );
    out.push(bytes.subarray(at, at + len));
    at += len;
  }
  return out;
}

// ---- decoders ----

/** Decodes a compat image. @throws StateError / MdevError on anything malformed. */
export function decodeCompatImage(bytes: Uint8Array): {
  info: CompatInfo;
  pf: PfPolicy | undefined;
} {
  const map = new StateReader(bytes, {
    sections: { compat: SECTION_VERSIONS.compat, "pf-config": SECTION_VERSIONS["pf-config"] },
    maxSectionLength: MAX_IMAGE_BYTES,
  }).toMap();
  const c = map.get("compat");
  if (c === undefined)
    refuse("compat", "missing", "the stream does not start with a compat section");
  const f = c.fields;
  const info: CompatInfo = {
    major: f.u16(),
    minor: f.u16(),
    vendorId: f.u16(),
    deviceId: f.u16(),
    queuePairs: f.u8(),
    rssKeyBytes: f.u8(),
    retaEntries: f.u8(),
    msixVectors: f.u8(),
    mbxApi: f.u16(),
    features: f.u32(),
  };
  f.end();
  const pfSection = map.get("pf-config");
  return { info, pf: pfSection === undefined ? undefined : decodePf(pfSection) };
}

function decodePf(s: StateSection): PfPolicy {
  const f = s.fields;
  const pf = {
    adminMac: Number(f.u64()),
    portVlan: f.u16(),
    spoofChk: f.u8() === 1,
    trust: f.u8() === 1,
  };
  f.end();
  return pf;
}

function decodeFilters(s: StateSection): Filters {
  const f = s.fields;
  const mac = f.u64();
  if (mac === 0n || mac >= 2n ** 48n)
    refuse("filters", "mac", `MAC 0x${mac.toString(16)} is not a 48-bit unicast address`);
  const count = f.u8();
  if (count > MAX_MC_ENTRIES)
    refuse("filters", "mc-count", `${count} multicast entries exceed ${MAX_MC_ENTRIES}`);
  const mcHashes: number[] = [];
  for (let i = 0; i < count; i++) {
    const h = f.u16();
    if (h > 0xfff) refuse("filters", "mc-hash", `multicast hash ${h} is wider than 12 bits`);
    mcHashes.push(h);
  }
  const vlans = f.raw(512).slice();
  const promisc = f.u8();
  if (promisc > 3) refuse("filters", "promisc", `promiscuity bits 0x${promisc.toString(16)}`);
  f.end();
  return {
    mac: Number(mac),
    mcHashes,
    vlans,
    promiscUc: (promisc & 1) !== 0,
    promiscMc: (promisc & 2) !== 0,
  };
}

function decodeRss(s: StateSection): Rss {
  const f = s.fields;
  const key = f.raw(RSS_KEY_BYTES).slice();
  const reta = f.raw(RETA_ENTRIES).slice();
  if (reta.some((q) => q > 1))
    refuse("rss", "reta", "a redirection entry names a queue this VF does not have");
  const mrqc = f.u32();
  f.end();
  return { key, reta, mrqc };
}

function checkRing(tag: string, q: string, len: number, head: number, tail: number): void {
  if (len % 128 !== 0 || len > 4096 * 16)
    refuse(tag, "ring-length", `${q} ring of ${len} bytes (multiple of 128, ≤ 64 KiB)`);
  const n = ringDescs(len);
  const bad = n === 0 ? head !== 0 || tail !== 0 : head >= n || tail >= n;
  if (bad)
    refuse(tag, "ring-index", `${q} head ${head} / tail ${tail} outside a ${n}-descriptor ring`);
}

function gpa(tag: string, what: string, v: bigint): number {
  if (v >= 2n ** 52n)
    refuse(tag, "address", `${what} 0x${v.toString(16)} is beyond the 52-bit address space`);
  return Number(v);
}

function decodeQueues(s: StateSection): { rx: [RxQueue, RxQueue]; tx: [TxQueue, TxQueue] } {
  const f = s.fields;
  const rx: RxQueue[] = [];
  for (let q = 0; q < 2; q++) {
    const baseGpa = gpa("queues", `rx${q} base`, f.u64());
    const lenBytes = f.u32();
    const head = f.u16();
    const tail = f.u16();
    const enabled = f.u8();
    const srrctl = f.u32();
    const rqdpc = f.u32();
    if (enabled > 1) refuse("queues", "enabled", `rx${q} enable ${enabled}`);
    checkRing("queues", `rx${q}`, lenBytes, head, tail);
    rx.push({ baseGpa, lenBytes, head, tail, enabled: enabled === 1, srrctl, rqdpc });
  }
  const tx: TxQueue[] = [];
  for (let q = 0; q < 2; q++) {
    const baseGpa = gpa("queues", `tx${q} base`, f.u64());
    const lenBytes = f.u32();
    const head = f.u16();
    const tail = f.u16();
    const enabled = f.u8();
    const headWb = gpa("queues", `tx${q} head write-back`, f.u64());
    const ctx: [Uint32Array, Uint32Array] = [new Uint32Array(4), new Uint32Array(4)];
    for (const c of ctx) for (let i = 0; i < 4; i++) c[i] = f.u32();
    if (enabled > 1) refuse("queues", "enabled", `tx${q} enable ${enabled}`);
    checkRing("queues", `tx${q}`, lenBytes, head, tail);
    const hasPartial = f.u8();
    let partial: TxQueue["partial"] = null;
    if (hasPartial === 1) {
      const firstDesc = f.u16();
      const descs = f.u16();
      const bytes = f.u32();
      const n = ringDescs(lenBytes);
      if (firstDesc >= n || descs === 0 || descs >= n)
        refuse(
          "queues",
          "partial",
          `tx${q} partial packet at ${firstDesc} over ${descs} descriptors`,
        );
      partial = { firstDesc, descs, bytes, policy: "drop" };
    } else if (hasPartial !== 0) refuse("queues", "partial", `tx${q} partial flag ${hasPartial}`);
    tx.push({ baseGpa, lenBytes, head, tail, enabled: enabled === 1, headWb, ctx, partial });
  }
  f.end();
  return { rx: rx as [RxQueue, RxQueue], tx: tx as [TxQueue, TxQueue] };
}

function decodeIrq(s: StateSection, now: number): Irq {
  const f = s.fields;
  const mask = (1 << VF_MSIX_VECTORS) - 1;
  const regs = [f.u8(), f.u8(), f.u8(), f.u8()];
  if (regs.some((r) => (r & ~mask) !== 0))
    refuse("irq", "vector-bits", "an interrupt register names a vector this VF lacks");
  const eitr = Array.from({ length: VF_MSIX_VECTORS }, () => f.u16());
  if (eitr.some((e) => e > MAX_EITR_TICKS))
    refuse("irq", "eitr", `throttle interval above ${MAX_EITR_TICKS} ticks`);
  const ivar0 = f.u32();
  const ivarMisc = f.u8();
  const lastMsi = Array.from({ length: VF_MSIX_VECTORS }, () => Number(f.u64()) - 1);
  if (lastMsi.some((t) => t > now || !Number.isSafeInteger(t)))
    refuse("irq", "last-msi", "an interrupt was sent after the device clock");
  const pending = f.u8();
  if ((pending & ~mask) !== 0) refuse("irq", "pending", `pending bits 0x${pending.toString(16)}`);
  f.end();
  return {
    eicr: regs[0]!,
    eims: regs[1]!,
    eiac: regs[2]!,
    eiam: regs[3]!,
    eitr,
    ivar0,
    ivarMisc,
    lastMsi,
    pending,
  };
}

function decodeStats(s: StateSection): Stats {
  const f = s.fields;
  const out = {} as Stats;
  for (const n of STAT_NAMES) {
    const v = f.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) refuse("stats", "range", `${n} beyond 2^53`);
    out[n] = Number(v);
  }
  f.end();
  return out;
}

function decodeMailbox(s: StateSection, now: number): Mailbox {
  const f = s.fields;
  const ctrl = f.u8();
  const mem = new Uint32Array(MBX_WORDS);
  for (let i = 0; i < MBX_WORDS; i++) mem[i] = f.u32();
  const k = f.u8();
  const inFlight = IN_FLIGHT[k];
  if (inFlight === undefined) refuse("mailbox", "in-flight", `in-flight kind ${k}`);
  const reqTick = f.u64();
  f.end();
  if (reqTick > BigInt(now) || (inFlight !== "vf-to-pf" && reqTick !== 0n))
    refuse(
      "mailbox",
      "request-tick",
      `request tick ${reqTick} with "${inFlight}" at device tick ${now}`,
    );
  // The control bits must tell the same story as the in-flight kind (REQ = 1, PFSTS = 0x10).
  const consistent =
    inFlight === "vf-to-pf"
      ? (ctrl & 0x1) !== 0
      : inFlight === "pf-to-vf"
        ? (ctrl & 0x10) !== 0 && (ctrl & 0x1) === 0
        : (ctrl & 0x11) === 0;
  if (!consistent)
    refuse(
      "mailbox",
      "consistency",
      `control 0x${ctrl.toString(16)} contradicts in-flight "${inFlight}"`,
    );
  return { ctrl, mem, inFlight, reqTick: Number(reqTick) };
}

function decodeLink(s: StateSection): Link {
  const f = s.fields;
  const up = f.u8();
  const speed = f.u16();
  f.end();
  if (up > 1 || ![10, 100, 1000].includes(speed))
    refuse("link", "range", `link up=${up} speed=${speed}`);
  return { up: up === 1, speedMbps: speed };
}

/** Everything a complete stream decodes to. */
export interface DecodedStream {
  readonly compat: CompatInfo;
  readonly pf: PfPolicy | undefined;
  readonly state: NicState;
}

const FINAL_SECTIONS = [
  "clock",
  "queues",
  "filters",
  "rss",
  "irq",
  "stats",
  "mailbox",
  "link",
] as const;

/**
 * Decodes a whole stream into a fresh state: compat image first, config images, the final
 * image last, later sections replacing earlier ones. Applies nothing.
 * @throws StateError / MdevError naming the section and rule.
 */
export function decodeStream(bytes: Uint8Array): DecodedStream {
  const images = splitImages(bytes);
  if (images.length < 2)
    refuse(
      "image",
      "missing",
      `stream has ${images.length} image(s); a compat and a final image are needed`,
    );
  const { info, pf } = decodeCompatImage(images[0]!);
  const latest = new Map<string, StateSection>();
  let finalSeen = false;
  for (const [i, img] of images.slice(1).entries()) {
    if (finalSeen) refuse("image", "after-final", "data after the final image");
    const map = new StateReader(img, {
      sections: SECTION_VERSIONS,
      maxSectionLength: MAX_IMAGE_BYTES,
    }).toMap();
    const kind = map.get("image");
    if (kind === undefined) refuse("image", "missing", `image ${i + 1} has no image section`);
    const k = kind.fields.u8();
    kind.fields.end();
    if (k !== ImageKind.CONFIG && k !== ImageKind.FINAL) refuse("image", "kind", `image kind ${k}`);
    if (map.has("compat")) refuse("compat", "repeated", "a second compat section");
    for (const [tag, s] of map) if (tag !== "image") latest.set(tag, s);
    finalSeen = k === ImageKind.FINAL;
  }
  if (!finalSeen) refuse("image", "no-final", "the stream ends before its final image");
  for (const tag of FINAL_SECTIONS)
    if (!latest.has(tag)) refuse(tag, "missing", `section "${tag}" is missing`);
  const clock = latest.get("clock")!.fields;
  const now = Number(clock.u64());
  const ctrl = clock.u32();
  clock.end();
  if (!Number.isSafeInteger(now)) refuse("clock", "range", "device clock beyond 2^53");
  const { rx, tx } = decodeQueues(latest.get("queues")!);
  const state: NicState = {
    now,
    ctrl,
    rx,
    tx,
    filters: decodeFilters(latest.get("filters")!),
    rss: decodeRss(latest.get("rss")!),
    irq: decodeIrq(latest.get("irq")!, now),
    stats: decodeStats(latest.get("stats")!),
    mailbox: decodeMailbox(latest.get("mailbox")!, now),
    link: decodeLink(latest.get("link")!),
  };
  const pfLatest = latest.get("pf-config");
  return { compat: info, pf: pfLatest === undefined ? pf : decodePf(pfLatest), state };
}
