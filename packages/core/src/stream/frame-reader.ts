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
import type { RamPagesBody } from "./records.js";
import { decodeStreamHeader, type StreamHeader } from "./stream-header.js";
import type { StreamLimits } from "./stream-limits.js";

/**
 * Takes over the payload of one frame as it arrives, instead of the reader assembling it:
 * how a RAM_PAGES run is written straight into guest memory. Created by a
 * {@link PayloadProbe} once the payload's first bytes proved the layout sound.
 */
export interface StreamedPayload {
  /** The next payload bytes, in order (after the probed prefix); the view is valid during the call. */
  write(bytes: Uint8Array): void;
  /**
   * Every payload byte arrived: checks the frame's CRC32C (`frameHeadCrc` is the CRC of the
   * 12-byte frame header, `expected` the trailer's) and returns the decoded record body.
   * @throws StreamError "crc" on a mismatch.
   */
  finish(frameHeadCrc: number, expected: number): RamPagesBody;
}

/**
 * Looks at a growing prefix of a frame's payload (`length` bytes declared) and answers how
 * many bytes it needs to decide (a number larger than `prefix.byteLength`), a
 * {@link StreamedPayload} for the rest, or `undefined` to let the reader assemble the
 * payload as usual (any doubt: the ordinary path then reports the violation, CRC first).
 */
export type PayloadProbe = (
  type: number,
  offset: number,
  length: number,
  prefix: Uint8Array,
) => number | StreamedPayload | undefined;

/**
 * Judges a frame from its 12-byte header alone — its type, the payload length it declares
 * and its stream offset — before any of the payload is buffered, and throws to refuse it.
 * How a decoder refuses a record its stream's state does not allow (a RAM_PAGES before
 * HANDSHAKE) without waiting for, or holding, megabytes of it.
 */
export type FrameGate = (type: number, length: number, offset: number) => void;

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
  /** Set when a {@link PayloadProbe} took the payload: the body it decoded (CRC checked). */
  readonly streamed?: RamPagesBody;
}

interface PendingFrame {
  type: number;
  seq: number;
  length: number;
  offset: number;
}

/** What the reader is collecting: the stream header, a frame header, a payload or a trailer. */
type ReadState = "header" | "frame-head" | "probe" | "payload" | "streamed" | "trailer";

/** The payload of a streamed frame, whose bytes went to the probe's writer. */
const NO_PAYLOAD = new Uint8Array(0);

/** Initial bytes of a payload a probe asks for before it knows more. */
const FIRST_PROBE = 16;

/**
 * Incremental framer shared by the forward and return-path decoders. It accepts bytes in
 * any chunking and yields frames only after their CRC matched. Memory use is bounded: a
 * payload is assembled only after its declared length passed the per-type bounds, and the
 * assembly buffer is reused. After the first violation the reader stays failed.
 *
 * It keeps no reference to a chunk once {@link push} finished with it — bytes of a frame
 * that is not complete are copied into the reader's own buffers — so a caller may refill
 * the same receive buffer for every read. A frame that lies whole in one chunk is yielded
 * as a view of it, without a copy; a payload a {@link PayloadProbe} takes is handed over
 * piece by piece as it arrives, never assembled.
 */
export class FrameReader {
  readonly #direction: StreamDirection;
  readonly #limits: StreamLimits;
  #state: ReadState = "header";
  #header: StreamHeader | undefined;
  #pending: PendingFrame | undefined;
  #nextSeq = 0;
  /** Bytes pushed so far. */
  #total = 0;
  /** Stream offset just past the last yielded frame (or the stream header). */
  #settled = 0;
  /** Bytes of the current unit (header, frame header, trailer) gathered so far. */
  #gathered = 0;
  /** Payload bytes of the pending frame received so far. */
  #filled = 0;
  /** Prefix length the probe asked for. */
  #probeNeed = 0;
  #streamed: StreamedPayload | undefined;
  #assembly = new Uint8Array(0);
  readonly #headerBytes = new Uint8Array(HEADER_LENGTH);
  readonly #frameHead = new Uint8Array(FRAME_HEADER_LENGTH);
  readonly #frameHeadView = new DataView(this.#frameHead.buffer);
  readonly #trailer = new Uint8Array(FRAME_TRAILER_LENGTH);
  readonly #trailerView = new DataView(this.#trailer.buffer);
  /** What stopped this reader: a violation, or a refusal of its {@link FrameGate}. */
  #failure: Error | undefined;

  readonly #deferCrc: (type: number) => boolean;
  #probe: PayloadProbe | undefined;
  #gate: FrameGate | undefined;

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

  /** Bytes consumed so far (every byte pushed is consumed at once). */
  get offset(): number {
    return this.#total;
  }

  /** Bytes received but not yet part of a yielded frame. */
  get buffered(): number {
    return this.#total - this.#settled;
  }

  /**
   * Bytes that must still arrive before the unit being read is complete: the stream header,
   * a frame header, or the rest of the current frame (payload and trailer, whose length its
   * header declared and the bounds already passed). A transport may wait for that many before
   * waking its reader: a sound stream sends them, and until they are here the reader cannot
   * yield anything.
   */
  get missing(): number {
    switch (this.#state) {
      case "header":
        return HEADER_LENGTH - this.#gathered;
      case "frame-head":
        return FRAME_HEADER_LENGTH - this.#gathered;
      case "trailer":
        return FRAME_TRAILER_LENGTH - this.#gathered;
      default: {
        const p = this.#pending as PendingFrame;
        return p.length - this.#filled + FRAME_TRAILER_LENGTH;
      }
    }
  }

  /** The violation (or the gate's refusal) that stopped this reader, if any. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Lets `probe` take payloads as they arrive (or stops it, with `undefined`). */
  setPayloadProbe(probe: PayloadProbe | undefined): void {
    this.#probe = probe;
  }

  /** Has `gate` judge each frame from its header, before its payload (`undefined`: none). */
  setFrameGate(gate: FrameGate | undefined): void {
    this.#gate = gate;
  }

  /** Records a violation so every later call fails the same way, and returns it. */
  fail(err: StreamError): StreamError {
    this.#failure ??= err;
    return err;
  }

  /**
   * Feeds bytes; yields each complete, checked frame. A yielded payload is valid until the
   * generator is resumed; the chunk is not referenced once the generator finished.
   */
  *push(chunk: Uint8Array): Generator<RawFrame, void, undefined> {
    if (this.#failure) throw this.#failure;
    const n = chunk.byteLength;
    let pos = 0;
    try {
      for (;;) {
        switch (this.#state) {
          case "header": {
            pos = this.#gather(chunk, pos, this.#headerBytes);
            if (this.#gathered < HEADER_LENGTH) return;
            this.#gathered = 0;
            this.#header = decodeStreamHeader(this.#headerBytes, this.#direction);
            this.#settled = this.#total;
            this.#state = "frame-head";
            break;
          }
          case "frame-head": {
            if (pos === n) return;
            pos = this.#gather(chunk, pos, this.#frameHead);
            if (this.#gathered < FRAME_HEADER_LENGTH) return;
            this.#gathered = 0;
            const frameOffset = this.#total - FRAME_HEADER_LENGTH;
            const p = this.#readFrameHeader(frameOffset);
            // Before a byte of the payload is taken: a refused frame costs its header only.
            this.#gate?.(p.type, p.length, p.offset);
            this.#pending = p;
            this.#filled = 0;
            this.#streamed = undefined;
            this.#state =
              p.length === 0 ? "trailer" : this.#probe !== undefined ? "probe" : "payload";
            this.#probeNeed = Math.min(FIRST_PROBE, p.length);
            break;
          }
          case "probe": {
            const p = this.#pending as PendingFrame;
            pos = this.#fill(chunk, pos, p.length, this.#probeNeed);
            if (this.#filled < this.#probeNeed) return;
            const answer = this.#probe?.(
              p.type,
              p.offset,
              p.length,
              this.#assembly.subarray(0, this.#filled),
            );
            if (typeof answer === "number" && answer > this.#filled && answer <= p.length) {
              this.#probeNeed = answer;
            } else if (typeof answer === "object") {
              this.#streamed = answer;
              this.#state = this.#filled === p.length ? "trailer" : "streamed";
            } else {
              this.#state = "payload";
            }
            break;
          }
          case "payload": {
            const p = this.#pending as PendingFrame;
            // A frame that lies whole in this chunk is checked and yielded in place.
            if (this.#filled === 0 && n - pos >= p.length + FRAME_TRAILER_LENGTH) {
              const payload = chunk.subarray(pos, pos + p.length);
              pos += p.length;
              this.#total += p.length;
              pos = this.#gather(chunk, pos, this.#trailer);
              yield this.#settle(p, payload);
              break;
            }
            pos = this.#fill(chunk, pos, p.length, p.length);
            if (this.#filled < p.length) return;
            this.#state = "trailer";
            break;
          }
          case "streamed": {
            const p = this.#pending as PendingFrame;
            const take = Math.min(n - pos, p.length - this.#filled);
            if (take > 0) {
              (this.#streamed as StreamedPayload).write(chunk.subarray(pos, pos + take));
              pos += take;
              this.#filled += take;
              this.#total += take;
            }
            if (this.#filled < p.length) return;
            this.#state = "trailer";
            break;
          }
          case "trailer": {
            const p = this.#pending as PendingFrame;
            pos = this.#gather(chunk, pos, this.#trailer);
            if (this.#gathered < FRAME_TRAILER_LENGTH) return;
            yield this.#settle(p, this.#assembly.subarray(0, p.length));
            break;
          }
        }
      }
    } catch (err) {
      // Whatever stopped the reader left it mid-unit: it must not go on from there.
      if (err instanceof Error) this.#failure ??= err;
      throw err;
    }
  }

  /** The pending frame's trailer arrived: checks it and moves on to the next frame. */
  #settle(p: PendingFrame, payload: Uint8Array): RawFrame {
    this.#gathered = 0;
    const frame = this.#complete(p, payload);
    this.#settled = this.#total;
    this.#pending = undefined;
    this.#nextSeq++;
    this.#state = "frame-head";
    return frame;
  }

  /** The checked frame for `payload`, once its trailer arrived. */
  #complete(p: PendingFrame, payload: Uint8Array): RawFrame {
    const headCrc = crc32c(this.#frameHead);
    const expected = this.#trailerView.getUint32(0, true);
    // Frames are built as literals, never by spreading: on Node 20, spreading an object and
    // adding properties costs about 3 µs, more than the rest of a small record's decoding.
    if (this.#streamed !== undefined) {
      const streamed = this.#streamed.finish(headCrc, expected);
      this.#streamed = undefined;
      return { type: p.type, seq: p.seq, offset: p.offset, payload: NO_PAYLOAD, streamed };
    }
    if (this.#deferCrc(p.type))
      return {
        type: p.type,
        seq: p.seq,
        offset: p.offset,
        payload,
        deferredCrc: { headCrc, expected },
      };
    if (crc32c(payload as Buffer, headCrc) !== expected) {
      throw new StreamError(
        "EBADMSG",
        recordTypeName(p.type),
        p.offset,
        "crc",
        "record CRC32C mismatch",
      );
    }
    return { type: p.type, seq: p.seq, offset: p.offset, payload };
  }

  /** Copies from `chunk[pos..]` into `dest` until it is full; returns the new position. */
  #gather(chunk: Uint8Array, pos: number, dest: Uint8Array): number {
    const take = Math.min(chunk.byteLength - pos, dest.byteLength - this.#gathered);
    if (take <= 0) return pos;
    dest.set(chunk.subarray(pos, pos + take), this.#gathered);
    this.#gathered += take;
    this.#total += take;
    return pos + take;
  }

  /** Assembles payload bytes (of `length`) until `upTo` arrived; returns the new position. */
  #fill(chunk: Uint8Array, pos: number, length: number, upTo: number): number {
    if (this.#assembly.byteLength < length) {
      const grown = new Uint8Array(length);
      grown.set(this.#assembly.subarray(0, this.#filled));
      this.#assembly = grown;
    }
    const take = Math.min(chunk.byteLength - pos, upTo - this.#filled);
    if (take <= 0) return pos;
    this.#assembly.set(chunk.subarray(pos, pos + take), this.#filled);
    this.#filled += take;
    this.#total += take;
    return pos + take;
  }

  /**
   * Declares the end of input. Leftover bytes (a cut record or header) are a truncation;
   * `complete` says whether the layer above saw its terminal record.
   */
  finish(): void {
    if (this.#failure) throw this.#failure;
    const leftover = this.#total - this.#settled;
    if (!this.#header || leftover > 0 || this.#pending) {
      const name = !this.#header
        ? "HEADER"
        : this.#pending
          ? recordTypeName(this.#pending.type)
          : "FRAME";
      const at = this.#pending?.offset ?? this.#settled;
      throw this.fail(
        new StreamError(
          "EBADMSG",
          name,
          at,
          "truncated",
          `stream ended with ${leftover} bytes of an incomplete ${name}`,
        ),
      );
    }
  }

  #readFrameHeader(offset: number): PendingFrame {
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
}
