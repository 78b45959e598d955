/**
 * Ethernet frames as the simulation builds and parses them: an Ethernet header (the
 * 802.1Q tag travels beside the frame, as NICs strip it into the descriptor), an IPv4
 * header carrying the flow's addresses, a TCP/UDP port pair, and a 12-byte mdevkit
 * marker (sequence number, flow, length, checksum) so every receiver can tell which
 * packet it got and that it arrived whole.
 */
import { crc32 } from "node:zlib";
import type { FiveTuple } from "./toeplitz.js";

/** Broadcast MAC. */
export const BROADCAST_MAC = 0xffff_ffff_ffff;
/** Offset of the mdevkit marker in a frame. */
export const MARKER_OFFSET = 14 + 20 + 4;
/** Smallest frame the simulation builds (header + marker, padded to Ethernet's 60). */
export const MIN_FRAME = 60;
/** Largest frame (1500-byte MTU + header). */
export const MAX_FRAME = 1514;
/** Ethertype of IPv4. */
export const ETH_P_IP = 0x0800;
/** Ethertype of RARP, what QEMU's announce sends. */
export const ETH_P_RARP = 0x8035;

/** One frame on the simulated wire (host-side; never device state). */
export interface WireFrame {
  /** Sequence number within its sender's stream. */
  readonly seq: number;
  /** Flow index (0–15 for generated traffic; 0xffff for announces). */
  readonly flow: number;
  readonly dstMac: number;
  readonly srcMac: number;
  /** 802.1Q VLAN id, or 0 for untagged. */
  readonly vlan: number;
  readonly ethertype: number;
  /** Bytes of the frame. */
  readonly length: number;
  readonly tuple: FiveTuple;
}

/** A frame's mdevkit marker, as a receiver reads it back. */
export interface Marker {
  readonly seq: number;
  readonly flow: number;
  readonly length: number;
}

function putMac(v: DataView, at: number, mac: number): void {
  v.setUint16(at, Math.floor(mac / 2 ** 32) & 0xffff);
  v.setUint32(at + 2, mac % 2 ** 32);
}

/** Reads a MAC written by {@link putMac}. */
export function getMac(v: DataView, at: number): number {
  return v.getUint16(at) * 2 ** 32 + v.getUint32(at + 2);
}

/** Checksum of a marker: the receiver refuses a frame whose marker does not match. */
function markerCrc(seq: number, flow: number, length: number): number {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, seq >>> 0);
  v.setUint16(4, flow);
  v.setUint16(6, length);
  return crc32(b) >>> 0;
}

/** The bytes of `f` (length `f.length`; bytes past the headers are zero). */
export function buildFrame(f: WireFrame): Uint8Array {
  const out = new Uint8Array(f.length);
  const v = new DataView(out.buffer);
  putMac(v, 0, f.dstMac);
  putMac(v, 6, f.srcMac);
  v.setUint16(12, f.ethertype);
  if (f.ethertype === ETH_P_IP) {
    v.setUint8(14, 0x45);
    v.setUint16(16, f.length - 14);
    v.setUint8(23, f.tuple.proto);
    v.setUint32(26, f.tuple.srcIp >>> 0);
    v.setUint32(30, f.tuple.dstIp >>> 0);
    v.setUint16(34, f.tuple.srcPort);
    v.setUint16(36, f.tuple.dstPort);
  }
  v.setUint32(MARKER_OFFSET, f.seq >>> 0);
  v.setUint16(MARKER_OFFSET + 4, f.flow);
  v.setUint16(MARKER_OFFSET + 6, f.length);
  v.setUint32(MARKER_OFFSET + 8, markerCrc(f.seq, f.flow, f.length));
  return out;
}

/** Bytes a receiver needs to read a frame's marker. */
export const MARKER_END = MARKER_OFFSET + 12;

/** The marker of a frame's first {@link MARKER_END} bytes, or `undefined` when it is corrupt. */
export function readMarker(bytes: Uint8Array): Marker | undefined {
  if (bytes.byteLength < MARKER_END) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const seq = v.getUint32(MARKER_OFFSET);
  const flow = v.getUint16(MARKER_OFFSET + 4);
  const length = v.getUint16(MARKER_OFFSET + 6);
  if (v.getUint32(MARKER_OFFSET + 8) !== markerCrc(seq, flow, length)) return undefined;
  return { seq, flow, length };
}

/** Destination and source MAC of a frame's bytes. */
export function frameMacs(bytes: Uint8Array): { dst: number; src: number } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { dst: getMac(v, 0), src: getMac(v, 6) };
}

/** Whether `mac` is a group (multicast or broadcast) address. */
export function isMulticast(mac: number): boolean {
  return Math.floor(mac / 2 ** 40) % 2 === 1;
}

/** Formats a MAC as `aa:bb:cc:dd:ee:ff`. */
export function formatMac(mac: number): string {
  const parts: string[] = [];
  for (let i = 5; i >= 0; i--)
    parts.push((Math.floor(mac / 2 ** (8 * i)) & 0xff).toString(16).padStart(2, "0"));
  return parts.join(":");
}

/** Parses `aa:bb:cc:dd:ee:ff`, or `undefined` when malformed. */
export function parseMac(text: string): number | undefined {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text)) return undefined;
  return text.split(":").reduce((acc, h) => acc * 256 + Number.parseInt(h, 16), 0);
}
