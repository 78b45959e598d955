import { crc32c } from "@node-rs/crc32";
import { z } from "zod";
import { MdevError } from "../errors/mdev-error.js";
import { FieldWriter } from "./field-writer.js";
import {
  DEFAULT_MAX_SECTION_LENGTH,
  isSectionMeta,
  SECTION_FIXED_LENGTH,
  SECTION_OPTIONAL,
  STATE_FORMAT_VERSION,
  STATE_HEADER_LENGTH,
  STATE_MAGIC,
  sectionMetaSchema,
} from "./state-format.js";

const utf8 = new TextEncoder();

/** Options of one section. */
export interface SectionOptions {
  /** A reader that does not know the tag may skip the section (default false: mandatory). */
  readonly optional?: boolean;
}

/**
 * Builds a plugin's device state as a self-describing stream: a header (magic, format
 * version) and tagged, versioned, CRC-checked sections, so a plugin never hand-rolls framing
 * and a newer plugin can add optional sections an older one skips.
 *
 * @example
 * const w = new StateWriter();
 * w.section("uart", 1, (f) => f.u8(lcr).u8(ier).bytes(fifo));
 * w.section("stats", 1, (f) => f.u64(rxBytes), { optional: true });
 * const bytes = w.finish();
 */
export class StateWriter {
  readonly #parts: Uint8Array[] = [];
  readonly #maxSectionLength: number;
  #finished = false;

  constructor(options: { readonly maxSectionLength?: number } = {}) {
    this.#maxSectionLength = options.maxSectionLength ?? DEFAULT_MAX_SECTION_LENGTH;
    const header = new Uint8Array(STATE_HEADER_LENGTH);
    header.set(STATE_MAGIC);
    new DataView(header.buffer).setUint16(4, STATE_FORMAT_VERSION, true);
    this.#parts.push(header);
  }

  /**
   * Appends a section whose payload `fill` writes. Bad metadata is EINVAL, with
   * {@link sectionMetaSchema}'s reason.
   */
  section(
    tag: string,
    version: number,
    fill: (f: FieldWriter) => void,
    options: SectionOptions = {},
  ): this {
    if (this.#finished) throw new MdevError("EINVAL", "state writer already finished");
    const flags = options.optional ? SECTION_OPTIONAL : 0;
    if (!isSectionMeta(tag, version, flags)) {
      const meta = sectionMetaSchema.safeParse({ tag, version, flags });
      const why = meta.error ? z.prettifyError(meta.error) : "bad section metadata";
      throw new MdevError("EINVAL", `section "${tag}": ${why}`);
    }
    const f = new FieldWriter();
    fill(f);
    const payload = f.bytesWritten();
    if (payload.byteLength > this.#maxSectionLength) {
      throw new MdevError(
        "EINVAL",
        `section "${tag}" of ${payload.byteLength} bytes exceeds ${this.#maxSectionLength}`,
      );
    }
    const tagBytes = utf8.encode(tag);
    const head = new Uint8Array(SECTION_FIXED_LENGTH + tagBytes.byteLength);
    const v = new DataView(head.buffer);
    head[0] = tagBytes.byteLength;
    head.set(tagBytes, 1);
    const at = 1 + tagBytes.byteLength;
    v.setUint16(at, version, true);
    v.setUint16(at + 2, flags, true);
    v.setUint32(at + 4, payload.byteLength, true);
    v.setUint32(at + 8, crc32c(payload, crc32c(head.subarray(0, at + 8))), true);
    this.#parts.push(head, payload.slice());
    return this;
  }

  /** The finished state stream. */
  finish(): Uint8Array {
    this.#finished = true;
    const out = new Uint8Array(Buffer.concat(this.#parts));
    new DataView(out.buffer).setUint32(8, out.byteLength - STATE_HEADER_LENGTH, true);
    return out;
  }
}
