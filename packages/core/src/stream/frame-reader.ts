import { crc32c } from "@node-rs/crc32";
import { StreamError } from "../errors/stream-error.js";
import {
  FRAME_HEADER_LENGTH,
  FRAME_TRAILER_LENGTH,
  HEADER_LENGTH,
  type StreamDirection,
} from "./format.js";
import { payloadBounds } from "./record-bounds.js";
import { isKnownRecordType, recordTypeName } from "./record-type.js";
import { decodeStreamHeader, type StreamHeader } from "./stream-header.js";
import type { StreamLimits } from "./stream-limits.js";

/** One framed record whose header, length bounds, sequence and CRC were checked. */
export interface RawFrame {
  readonly type: number;
  readonly seq: number;
  /** Stream offset of the frame header. */
  readonly offset: number;
  /** Payload: a view into the chunk it arrived in, or into the reassembly buffer. */
  readonly payload: Uint8Array;
  /**
   * Set when the CRC check was deferred to the record decoder ({@link FrameReader} option
   * `deferCrc`): the CRC of the frame header, and the trailer's CRC the payload must match.
   */
  readonly deferredCrc?: { readonly headCrc: number; readonly expected: number };
}

interface PendingFrame {
  type: number;
  seq: number;
  length: number;
  offset: number;
}

/**
 * Incremental framer shared by the forward and return-path decoders. It accepts bytes in
 * any chunking and yields frames only after their CRC matched. Memory use is bounded: a
 * payload is reassembled only after its declared length passed the per-type bounds, and
 * the reassembly buffer is reused. After the first violation the reader stays failed.
 */
export class FrameReader {
  readonly #direction: StreamDirection;
  readonly #limits: StreamLimits;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #buffered = 0;
  #consumed = 0;
  #header: StreamHeader | undefined;
  #pending: PendingFrame | undefined;
  #nextSeq = 0;
  #assembly = new Uint8Array(0);
  readonly #frameHead = new Uint8Array(FRAME_HEADER_LENGTH);
  readonly #frameHeadView = new DataView(this.#frameHead.buffer);
  readonly #trailer = new Uint8Array(FRAME_TRAILER_LENGTH);
  readonly #trailerView = new DataView(this.#trailer.buffer);
  #failure: StreamError | undefined;

  readonly #deferCrc: (type: number) => boolean;

  /**
   * @param deferCrc record types whose CRC the caller checks itself (RAM_PAGES: from the
   *   per-page CRCs it computes anyway); a deferred frame must be checked before use.
   */
  constructor(
    direction: StreamDirection,
    limits: StreamLimits,
    deferCrc: (type: number) => boolean = () => false,
  ) {
    this.#direction = direction;
    this.#limits = limits;
    this.#deferCrc = deferCrc;
  }

  /** The stream header, once it arrived. */
  get header(): StreamHeader | undefined {
    return this.#header;
  }

  /** Bytes consumed so far (offset of the next unread byte). */
  get offset(): number {
    return this.#consumed;
  }

  /** Bytes received but not yet part of a yielded frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /** The violation that stopped this reader, if any. */
  get failure(): StreamError | undefined {
    return this.#failure;
  }

  /** Records a violation so every later call fails the same way, and returns it. */
  fail(err: StreamError): StreamError {
    this.#failure ??= err;
    return err;
  }

  /**
   * Feeds bytes; yields each complete, checked frame. A yielded payload is valid until the
   * generator is resumed.
   */
  *push(chunk: Uint8Array): Generator<RawFrame, void, undefined> {
    if (this.#failure) throw this.#failure;
    if (chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    try {
      for (;;) {
        if (!this.#header) {
          if (this.#buffered < HEADER_LENGTH) return;
          this.#header = decodeStreamHeader(
            this.#take(HEADER_LENGTH, new Uint8Array(HEADER_LENGTH)),
            this.#direction,
          );
        }
        if (!this.#pending) {
          if (this.#buffered < FRAME_HEADER_LENGTH) return;
          this.#pending = this.#readFrameHeader();
        }
        const p = this.#pending;
        if (this.#buffered < p.length + FRAME_TRAILER_LENGTH) return;
        const payload = this.#take(p.length);
        this.#take(FRAME_TRAILER_LENGTH, this.#trailer);
        const headCrc = crc32c(this.#frameHead);
        const expected = this.#trailerView.getUint32(0, true);
        if (this.#deferCrc(p.type)) {
          this.#pending = undefined;
          this.#nextSeq++;
          yield {
            type: p.type,
            seq: p.seq,
            offset: p.offset,
            payload,
            deferredCrc: { headCrc, expected },
          };
          continue;
        }
        const crc = crc32c(payload, headCrc);
        if (crc !== expected) {
          throw new StreamError(
            "EBADMSG",
            recordTypeName(p.type),
            p.offset,
            "crc",
            "record CRC32C mismatch",
          );
        }
        this.#pending = undefined;
        this.#nextSeq++;
        yield { type: p.type, seq: p.seq, offset: p.offset, payload };
      }
    } catch (err) {
      if (err instanceof StreamError) this.fail(err);
      throw err;
    }
  }

  /**
   * Declares the end of input. Leftover bytes (a cut record or header) are a truncation;
   * `complete` says whether the layer above saw its terminal record.
   */
  finish(): void {
    if (this.#failure) throw this.#failure;
    if (!this.#header || this.#buffered > 0 || this.#pending) {
      const name = !this.#header
        ? "HEADER"
        : this.#pending
          ? recordTypeName(this.#pending.type)
          : "FRAME";
      const at = this.#pending?.offset ?? this.#consumed;
      throw this.fail(
        new StreamError(
          "EBADMSG",
          name,
          at,
          "truncated",
          `stream ended with ${this.#buffered} bytes of an incomplete ${name}`,
        ),
      );
    }
  }

  #readFrameHeader(): PendingFrame {
    const offset = this.#consumed;
    this.#take(FRAME_HEADER_LENGTH, this.#frameHead);
    const v = this.#frameHeadView;
    const type = v.getUint16(0, true);
    const name = recordTypeName(type);
    const version = this.#header?.version ?? 0;
    if (!isKnownRecordType(version, this.#direction, type)) {
      throw new StreamError(
        "EPROTO",
        name,
        offset,
        "record-type",
        `type 0x${type.toString(16)} unknown in format version ${version} for this direction`,
      );
    }
    if (v.getUint16(2, true) !== 0)
      throw new StreamError(
        "EPROTO",
        name,
        offset + 2,
        "reserved",
        "reserved frame field must be 0",
      );
    const seq = v.getUint32(4, true);
    if (seq !== this.#nextSeq) {
      throw new StreamError(
        "EPROTO",
        name,
        offset + 4,
        "sequence",
        `sequence ${seq} where ${this.#nextSeq} was due`,
      );
    }
    const length = v.getUint32(8, true);
    const bounds = payloadBounds(type, this.#limits);
    if (length > bounds.max) {
      throw new StreamError(
        "E2BIG",
        name,
        offset + 8,
        "record-length",
        `payload of ${length} bytes exceeds ${bounds.max}`,
      );
    }
    if (length < bounds.min) {
      throw new StreamError(
        "EBADMSG",
        name,
        offset + 8,
        "record-length",
        `payload of ${length} bytes below ${bounds.min}`,
      );
    }
    return { type, seq, length, offset };
  }

  /**
   * Takes `n` buffered bytes (caller checked they are there). Without `dest` it returns a
   * view into the current chunk when the bytes lie in one, else it reassembles them into the
   * reusable buffer — the only copy on the receive side.
   */
  #take(n: number, dest?: Uint8Array): Uint8Array {
    this.#buffered -= n;
    this.#consumed += n;
    const first = this.#chunks[0];
    if (first && !dest && first.byteLength - this.#head >= n) {
      const v = first.subarray(this.#head, this.#head + n);
      this.#advance(first, n);
      return v;
    }
    let out = dest;
    if (!out) {
      if (this.#assembly.byteLength < n) this.#assembly = new Uint8Array(n);
      out = this.#assembly.subarray(0, n);
    }
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0];
      if (!c) break; // unreachable: callers check #buffered first
      const step = Math.min(n - filled, c.byteLength - this.#head);
      out.set(c.subarray(this.#head, this.#head + step), filled);
      filled += step;
      this.#advance(c, step);
    }
    return out;
  }

  #advance(chunk: Uint8Array, n: number): void {
    this.#head += n;
    if (this.#head === chunk.byteLength) {
      this.#chunks.shift();
      this.#head = 0;
    }
  }
}
