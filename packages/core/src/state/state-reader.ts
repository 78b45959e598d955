import { crc32c } from "@node-rs/crc32";
import { FieldReader } from "./field-reader.js";
import { StateError } from "./state-error.js";
import {
  DEFAULT_MAX_SECTION_LENGTH,
  isSectionMeta,
  KNOWN_SECTION_FLAGS,
  SECTION_FIXED_LENGTH,
  SECTION_OPTIONAL,
  STATE_FORMAT_VERSION,
  STATE_HEADER_LENGTH,
  STATE_MAGIC,
  sectionMetaSchema,
} from "./state-format.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** One section a reader handed out. */
export interface StateSection {
  readonly tag: string;
  /** Version the writer used (≤ the reader's supported version). */
  readonly version: number;
  readonly optional: boolean;
  /** Typed accessors over the payload. */
  readonly fields: FieldReader;
}

/** Options of a {@link StateReader}. */
export interface StateReaderOptions {
  /** Tags this reader understands, with the newest version of each it can read. */
  readonly sections: Readonly<Record<string, number>>;
  /** Largest section accepted (default 16 MiB). */
  readonly maxSectionLength?: number;
  /** Called with the tag of each unknown optional section that was skipped. */
  readonly onSkip?: (tag: string, version: number) => void;
}

/**
 * Reads a plugin state stream written by {@link StateWriter}. Iterating yields the known
 * sections in order; unknown optional sections are skipped; an unknown mandatory section,
 * a section newer than supported, a bad CRC, a bad length or a truncation is a
 * {@link StateError}. Lengths are checked against the bytes present and the limit before
 * any payload is touched.
 */
export class StateReader implements Iterable<StateSection> {
  readonly #bytes: Uint8Array;
  readonly #options: StateReaderOptions;

  constructor(bytes: Uint8Array, options: StateReaderOptions) {
    this.#bytes = bytes;
    this.#options = options;
  }

  /** Reads every section into a map by tag (a repeated tag is refused). */
  toMap(): Map<string, StateSection> {
    const out = new Map<string, StateSection>();
    for (const s of this) {
      if (out.has(s.tag))
        throw new StateError(
          "EPROTO",
          s.tag,
          0,
          "duplicate-section",
          `section "${s.tag}" appears twice`,
        );
      out.set(s.tag, s);
    }
    return out;
  }

  *[Symbol.iterator](): Iterator<StateSection> {
    const b = this.#bytes;
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const max = this.#options.maxSectionLength ?? DEFAULT_MAX_SECTION_LENGTH;
    if (b.byteLength < STATE_HEADER_LENGTH) {
      throw new StateError(
        "EBADMSG",
        "STATE_HEADER",
        0,
        "truncated",
        `state stream of ${b.byteLength} bytes has no header`,
      );
    }
    for (let i = 0; i < STATE_MAGIC.length; i++) {
      if (b[i] !== STATE_MAGIC[i])
        throw new StateError("EBADMSG", "STATE_HEADER", 0, "magic", "not an mdevkit state stream");
    }
    const format = view.getUint16(4, true);
    if (format !== STATE_FORMAT_VERSION || view.getUint16(6, true) !== 0) {
      throw new StateError(
        "EPROTO",
        "STATE_HEADER",
        4,
        "version",
        `state format ${format} unsupported`,
        {
          version: format,
          supported: STATE_FORMAT_VERSION,
        },
      );
    }
    const body = view.getUint32(8, true);
    if (body !== b.byteLength - STATE_HEADER_LENGTH) {
      const rule = body > b.byteLength - STATE_HEADER_LENGTH ? "truncated" : "trailing-bytes";
      throw new StateError(
        "EBADMSG",
        "STATE_HEADER",
        8,
        rule,
        `header says ${body} body bytes, ${b.byteLength - STATE_HEADER_LENGTH} present`,
      );
    }
    let at = STATE_HEADER_LENGTH;
    while (at < b.byteLength) {
      const start = at;
      const tagLength = view.getUint8(at);
      if (at + SECTION_FIXED_LENGTH + tagLength > b.byteLength) {
        throw new StateError("EBADMSG", "SECTION", start, "truncated", "section header cut short");
      }
      let tag: string;
      try {
        tag = utf8.decode(b.subarray(at + 1, at + 1 + tagLength));
      } catch {
        throw new StateError("EBADMSG", "SECTION", start, "tag", "section tag is not UTF-8");
      }
      at += 1 + tagLength;
      const version = view.getUint16(at, true);
      const flags = view.getUint16(at + 2, true);
      const length = view.getUint32(at + 4, true);
      const crc = view.getUint32(at + 8, true);
      at += 12;
      if (!isSectionMeta(tag, version, flags)) {
        const rule = (flags & ~KNOWN_SECTION_FLAGS) !== 0 ? "flags" : "section-meta";
        const meta = sectionMetaSchema.safeParse({ tag, version, flags });
        throw new StateError(
          "EPROTO",
          tag || "SECTION",
          start,
          rule,
          meta.error?.issues.map((i) => i.message).join("; ") ?? "bad section metadata",
        );
      }
      if (length > max)
        throw new StateError(
          "E2BIG",
          tag,
          start,
          "section-length",
          `section of ${length} bytes exceeds ${max}`,
        );
      if (at + length > b.byteLength) {
        throw new StateError(
          "EBADMSG",
          tag,
          start,
          "truncated",
          `section declares ${length} bytes, ${b.byteLength - at} present`,
        );
      }
      const payload = b.subarray(at, at + length);
      const base = at;
      at += length;
      if (crc32c(payload, crc32c(b.subarray(start, base - 4))) !== crc)
        throw new StateError("EBADMSG", tag, start, "crc", `section "${tag}" CRC32C mismatch`);
      const optional = (flags & SECTION_OPTIONAL) !== 0;
      const supported = this.#options.sections[tag];
      if (supported === undefined || !Object.hasOwn(this.#options.sections, tag)) {
        if (optional) {
          this.#options.onSkip?.(tag, version);
          continue;
        }
        throw new StateError(
          "EPROTO",
          tag,
          start,
          "unknown-mandatory",
          `unknown mandatory section "${tag}" v${version}`,
          {
            version,
          },
        );
      }
      if (version > supported) {
        throw new StateError(
          "EPROTO",
          tag,
          start,
          "newer-version",
          `section "${tag}" is v${version}, this reader supports up to v${supported}`,
          {
            version,
            supported,
          },
        );
      }
      yield { tag, version, optional, fields: new FieldReader(payload, tag, base) };
    }
  }
}
