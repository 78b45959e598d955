import { crc32c } from "@node-rs/crc32";
import { MdevError } from "../errors/mdev-error.js";
import { StreamError } from "../errors/stream-error.js";
import { ByteBuilder } from "./byte-builder.js";
import {
  ACCEPTED_FORMAT_VERSIONS,
  DIGEST_LENGTH,
  FORMAT_VERSION,
  HEADER_LENGTH,
  PAGE_SIZE,
  STREAM_MAGIC,
  StreamDirection,
} from "./format.js";

/** What a stream header says. */
export interface StreamHeader {
  /** Format version the writer used (inside {@link ACCEPTED_FORMAT_VERSIONS}). */
  readonly version: number;
  /** Forward (source → target) or return path. */
  readonly direction: StreamDirection;
  /** Guest page size in bytes. */
  readonly pageSize: number;
  /** SHA-256 of the VM config JSON; the return path echoes the forward stream's. */
  readonly configDigest: Uint8Array;
}

/**
 * Encodes a header for `direction`, with this build's format version unless `version` (one
 * this build reads) is given: a target answers an older source in the source's version.
 */
export function encodeStreamHeader(
  direction: StreamDirection,
  configDigest: Uint8Array,
  version: number = FORMAT_VERSION,
): Uint8Array {
  if (configDigest.byteLength !== DIGEST_LENGTH)
    throw new MdevError("EINVAL", "config digest must be 32 bytes");
  if (
    !Number.isInteger(version) ||
    version < ACCEPTED_FORMAT_VERSIONS.min ||
    version > ACCEPTED_FORMAT_VERSIONS.max
  ) {
    throw new MdevError(
      "EINVAL",
      `format version ${version} outside ${ACCEPTED_FORMAT_VERSIONS.min}..${ACCEPTED_FORMAT_VERSIONS.max}`,
    );
  }
  const b = new ByteBuilder(HEADER_LENGTH);
  b.raw(STREAM_MAGIC).u16(version).u8(direction).u8(0).u32(PAGE_SIZE).raw(configDigest);
  b.u32At(HEADER_LENGTH - 4, crc32c(b.bytes.subarray(0, HEADER_LENGTH - 4)));
  return b.bytes;
}

/**
 * Decodes and checks a header: magic, CRC, version inside the accepted range, the expected
 * direction and a supported page size. `bytes` is exactly {@link HEADER_LENGTH} long.
 */
export function decodeStreamHeader(bytes: Uint8Array, expected: StreamDirection): StreamHeader {
  const fail = (code: "EBADMSG" | "EPROTO", rule: string, detail: string, at = 0): never => {
    throw new StreamError(code, "HEADER", at, rule, detail);
  };
  for (let i = 0; i < STREAM_MAGIC.length; i++) {
    if (bytes[i] !== STREAM_MAGIC[i]) fail("EBADMSG", "magic", "not an mdevkit migration stream");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const crc = view.getUint32(HEADER_LENGTH - 4, true);
  if (crc32c(bytes.subarray(0, HEADER_LENGTH - 4)) !== crc)
    fail("EBADMSG", "crc", "header CRC32C mismatch", HEADER_LENGTH - 4);
  const version = view.getUint16(8, true);
  if (version < ACCEPTED_FORMAT_VERSIONS.min || version > ACCEPTED_FORMAT_VERSIONS.max) {
    fail(
      "EPROTO",
      "version",
      `format version ${version} outside accepted ${ACCEPTED_FORMAT_VERSIONS.min}..${ACCEPTED_FORMAT_VERSIONS.max}`,
      8,
    );
  }
  const direction = view.getUint8(10);
  if (direction !== expected) {
    fail("EPROTO", "direction", `expected direction ${expected}, stream says ${direction}`, 10);
  }
  if (view.getUint8(11) !== 0) fail("EPROTO", "reserved", "reserved header byte must be 0", 11);
  const pageSize = view.getUint32(12, true);
  if (pageSize !== PAGE_SIZE)
    fail("EPROTO", "page-size", `page size ${pageSize} unsupported (only ${PAGE_SIZE})`, 12);
  return {
    version,
    direction: expected,
    pageSize,
    configDigest: bytes.slice(16, 16 + DIGEST_LENGTH),
  };
}
