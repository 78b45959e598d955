import type { Errno } from "./errno.js";
import { MdevError, type MdevErrorOptions } from "./mdev-error.js";

/** The errno codes a stream violation may carry. */
export type StreamErrno = Extract<Errno, "EBADMSG" | "EPROTO" | "E2BIG">;

/**
 * A migration stream (or plugin state stream) broke one of its rules. Everything a target
 * learns about a VM arrives through the stream, so each violation names where it happened
 * (`recordType`, `offset`) and which rule was broken (`rule`), letting an operator tell a
 * corrupt link (EBADMSG) from a confused peer (EPROTO) or an oversized claim (E2BIG).
 *
 * - `EBADMSG`: bytes are damaged: bad magic, CRC mismatch, truncation, lengths that do not add up.
 * - `EPROTO`: bytes are well-formed but break the protocol: unknown record type, sequence gap,
 *   record out of order, page outside guest RAM, unknown slot.
 * - `E2BIG`: a declared length or count exceeds a configured limit (checked before allocating).
 */
export class StreamError extends MdevError {
  /** Name of the record (or section) being decoded, e.g. `"RAM_PAGES"`, or `"HEADER"`. */
  readonly recordType: string;
  /** Byte offset in the stream where the offending record (or field) starts. */
  readonly offset: number;
  /** Short, stable identifier of the violated rule, e.g. `"crc"`, `"page-range"`, `"sequence"`. */
  readonly rule: string;

  constructor(
    code: StreamErrno,
    recordType: string,
    offset: number,
    rule: string,
    detail: string,
    options?: MdevErrorOptions,
  ) {
    super(code, `${recordType} at offset ${offset} breaks rule "${rule}": ${detail}`, options);
    this.recordType = recordType;
    this.offset = offset;
    this.rule = rule;
  }
}
