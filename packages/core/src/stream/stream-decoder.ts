import { StreamError } from "../errors/stream-error.js";
import { ByteCursor } from "./byte-cursor.js";
import { decodeAbort } from "./control-codec.js";
import { decodeDeviceConfig, decodeDeviceData, decodeDeviceInitDone } from "./device-codec.js";
import { decodeEnd } from "./end-codec.js";
import { FRAME_HEADER_LENGTH, StreamDirection } from "./format.js";
import { ForwardRules } from "./forward-rules.js";
import { FrameReader, type RawFrame } from "./frame-reader.js";
import { decodeHandshake } from "./handshake-codec.js";
import { decodeIteration } from "./progress-codec.js";
import { allowedRunFlags, countDataPages, decodeRamPages } from "./ram-pages-codec.js";
import { checkRamPagesCrc } from "./ram-pages-crc.js";
import { probeRamPages, type RamSink } from "./ram-pages-sink.js";
import { RecordType, recordTypeName } from "./record-type.js";
import type { ForwardBody, StreamRecord } from "./records.js";
import { digestsEqual, sha256 } from "./stream-digest.js";
import type { StreamHeader } from "./stream-header.js";
import { resolveStreamLimits, type StreamLimits } from "./stream-limits.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Options of a {@link StreamDecoder}. */
export interface StreamDecoderOptions {
  /** Overrides of {@link DEFAULT_STREAM_LIMITS}. */
  readonly limits?: Partial<StreamLimits>;
  /** Guest RAM size in pages, if known up front (else call `setGuestPageCount` after HANDSHAKE). */
  readonly guestPages?: number;
}

/**
 * Judges a forward record from its frame header — its type, the payload length it declares,
 * its stream offset — once the stream's rules allowed it there and before any of its payload
 * is buffered; throws to refuse it (see {@link StreamDecoder.setFrameAdmission}).
 */
export type FrameAdmission = (type: ForwardBody["type"], length: number, offset: number) => void;

/**
 * Incremental decoder of the forward migration stream. Feed it bytes in any chunking with
 * {@link StreamDecoder.push}; it yields only records that passed every check: framing,
 * bounds, sequence, CRC32C, payload layout, page range and stream order. Any violation is a
 * {@link StreamError}, after which the decoder stays failed — nothing from a bad record is
 * ever yielded, so a consumer that applies what it is given never applies bad data.
 */
export class StreamDecoder {
  readonly #limits: StreamLimits;
  readonly #frames: FrameReader;
  readonly #rules = new ForwardRules();
  #guestPages: number | undefined;
  #admission: FrameAdmission | undefined;

  constructor(options: StreamDecoderOptions = {}) {
    this.#limits = resolveStreamLimits(options.limits);
    // RAM_PAGES frames are CRC-checked page by page in #decode: the per-page CRCs are the
    // target's RAM digest table, so each page is hashed once.
    this.#frames = new FrameReader(
      StreamDirection.FORWARD,
      this.#limits,
      (type) => type === RecordType.RAM_PAGES,
    );
    // A record the stream's phase refuses is refused at its frame header, before its payload
    // is buffered: otherwise a peer that never sent a HANDSHAKE could have each connection
    // hold a whole record (8 MiB) before the order check saw it.
    this.#frames.setFrameGate((type, length, offset) => {
      // The frame reader let only forward record types through.
      const name = recordTypeName(type) as ForwardBody["type"];
      this.#rules.admit(name, offset);
      this.#admission?.(name, length, offset);
    });
    if (options.guestPages !== undefined) this.setGuestPageCount(options.guestPages);
  }

  /** The stream header, once it arrived. */
  get header(): StreamHeader | undefined {
    return this.#frames.header;
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.#frames.offset;
  }

  /** Bytes that must still arrive before the next record can complete (see {@link FrameReader.missing}). */
  get missing(): number {
    return this.#frames.missing;
  }

  /** Where the stream stands: `"ended"` after END, `"done"` after GO or ABORT. */
  get phase(): ForwardRules["phase"] {
    return this.#rules.phase;
  }

  /**
   * Sets the guest RAM size in pages: the bound every RAM_PAGES run is checked against.
   * The target calls it once it accepted the handshake's VM config.
   */
  setGuestPageCount(pages: number): void {
    if (!Number.isSafeInteger(pages) || pages < 0) {
      throw new StreamError(
        "EPROTO",
        "RAM_PAGES",
        this.offset,
        "guest-size",
        `invalid guest page count ${pages}`,
      );
    }
    this.#guestPages = pages;
  }

  /**
   * Feeds bytes and yields every record they complete. Yielded byte views are valid until
   * the generator is resumed: copy (e.g. into guest RAM) what you keep.
   */
  *push(chunk: Uint8Array): Generator<StreamRecord, void, undefined> {
    for (const frame of this.#frames.push(chunk)) {
      let record: StreamRecord;
      try {
        record = this.#decode(frame);
      } catch (err) {
        if (err instanceof StreamError) this.#frames.fail(err);
        throw err;
      }
      yield record;
    }
  }

  /**
   * Declares the end of input: fails if bytes of an incomplete record are left, or if the
   * stream stopped before END (or ABORT). A one-way (file) restore relies on this.
   */
  finish(): void {
    this.#frames.finish();
    const phase = this.#rules.phase;
    if (phase !== "ended" && phase !== "done") {
      throw this.#frames.fail(
        new StreamError(
          "EBADMSG",
          "END",
          this.offset,
          "truncated",
          `stream ended in phase ${phase}, before END`,
        ),
      );
    }
  }

  /**
   * Has `admission` judge each record the stream's rules allow, from its frame header and
   * before its payload is buffered (`undefined`: none) — how a target holds the HANDSHAKE
   * it waits for to a memory budget shared by every connection. What it throws ends the
   * stream, as a violation does.
   */
  setFrameAdmission(admission: FrameAdmission | undefined): void {
    this.#admission = admission;
  }

  /**
   * Lets RAM_PAGES data go straight into `sink` (guest memory) as it arrives, instead of
   * being assembled and yielded as a view the consumer copies: records then come with
   * `inSink` set and empty `data`, their zero pages left to the consumer. Only runs whose
   * head is sound and that the stream's order allows are taken; the page range is checked
   * before a byte is written. A record whose CRC then fails leaves guest memory written —
   * the target discards a VM whose stream failed, so nothing ever runs on it.
   * `undefined` stops it.
   */
  setRamSink(sink: RamSink | undefined): void {
    if (sink === undefined) {
      this.#frames.setPayloadProbe(undefined);
      return;
    }
    this.#frames.setPayloadProbe((type, offset, length, prefix) => {
      if (type !== RecordType.RAM_PAGES || this.#guestPages === undefined) return undefined;
      const phase = this.#rules.phase;
      if (phase !== "precopy" && phase !== "stopcopy") return undefined;
      return probeRamPages(
        sink,
        this.#limits,
        this.#guestPages,
        allowedRunFlags(this.#frames.header?.version ?? 0),
        offset,
        length,
        prefix,
      );
    });
  }

  #decode(frame: RawFrame): StreamRecord {
    const name = recordTypeName(frame.type);
    if (frame.streamed !== undefined) {
      const body = frame.streamed;
      this.#rules.accept(body, frame.offset, body.pageCrcs?.length ?? 0);
      // Fresh objects of the decoder's own get their position added in place: spreading
      // them into new ones costs microseconds a record on Node 20 (see FrameReader).
      return Object.assign(body, { seq: frame.seq, offset: frame.offset });
    }
    const c = new ByteCursor(frame.payload, name, frame.offset + FRAME_HEADER_LENGTH);
    const meta = { seq: frame.seq, offset: frame.offset };
    let body: ForwardBody;
    let dataPages = 0;
    const pageCrcs = frame.deferredCrc
      ? checkRamPagesCrc(
          frame.payload,
          frame.deferredCrc.headCrc,
          frame.deferredCrc.expected,
          frame.offset,
        )
      : undefined;
    switch (frame.type) {
      case RecordType.HANDSHAKE:
        body = decodeHandshake(c, this.#limits);
        this.#checkConfig(body.config, frame.offset);
        break;
      case RecordType.RAM_PAGES: {
        if (this.#guestPages === undefined) {
          // Before HANDSHAKE the frame gate refused it: the target forgot to size RAM.
          throw new StreamError(
            "EPROTO",
            name,
            frame.offset,
            "guest-size",
            "RAM_PAGES before the guest page count was set",
          );
        }
        const run = decodeRamPages(
          c,
          this.#limits,
          this.#frames.header?.pageSize ?? 0,
          this.#guestPages,
          this.#frames.header?.version ?? 0,
          pageCrcs,
        );
        dataPages = countDataPages(run.kinds);
        body = run;
        break;
      }
      case RecordType.DEVICE_CONFIG:
        body = decodeDeviceConfig(c, this.#limits);
        break;
      case RecordType.DEVICE_DATA:
        body = decodeDeviceData(c);
        break;
      case RecordType.DEVICE_INIT_DONE:
        body = decodeDeviceInitDone(c);
        break;
      case RecordType.ITERATION:
        body = decodeIteration(c);
        break;
      case RecordType.PRECOPY_END:
        body = { type: "PRECOPY_END" };
        break;
      case RecordType.END:
        body = decodeEnd(c, this.#limits);
        break;
      case RecordType.GO:
        body = { type: "GO" };
        break;
      default:
        body = decodeAbort(c, this.#limits);
    }
    this.#rules.accept(body, frame.offset, dataPages);
    return Object.assign(body, meta);
  }

  #checkConfig(config: Uint8Array, offset: number): void {
    const fail = (code: "EBADMSG" | "EPROTO", rule: string, detail: string): never => {
      throw new StreamError(code, "HANDSHAKE", offset, rule, detail);
    };
    const header = this.#frames.header;
    if (!header || !digestsEqual(sha256(config), header.configDigest)) {
      fail("EPROTO", "config-digest", "VM config does not match the header's config digest");
    }
    try {
      JSON.parse(utf8.decode(config));
    } catch {
      fail("EBADMSG", "config-json", "VM config is not UTF-8 JSON");
    }
  }
}
