import { MdevError } from "../errors/mdev-error.js";
import { StreamError } from "../errors/stream-error.js";
import { ByteCursor } from "./byte-cursor.js";
import { decodeReturnMessage, reasonBytes } from "./control-codec.js";
import { FORMAT_VERSION, FRAME_HEADER_LENGTH, StreamDirection } from "./format.js";
import { frameWhole } from "./frame.js";
import { FrameReader } from "./frame-reader.js";
import { checkLoaded, fillLoaded, loadedLength } from "./loaded-codec.js";
import { fillIterationAck, ITERATION_ACK_LENGTH } from "./progress-codec.js";
import { isKnownRecordType, RecordType, recordTypeName } from "./record-type.js";
import type { ReturnMessage, ReturnRecord } from "./records.js";
import { digestsEqual } from "./stream-digest.js";
import { encodeStreamHeader, type StreamHeader } from "./stream-header.js";
import { resolveStreamLimits, type StreamLimits } from "./stream-limits.js";

/** Where the return path stands. */
type ReturnPhase = "answer" | "accepted" | "loaded" | "done";

/**
 * Order of return-path messages: ACCEPT or REJECT first; then SWITCHOVER_ACK (at most once),
 * ITERATION_ACKs (numbers strictly increasing) and LOADED; then RESUMED. FAILED may come at
 * any time. REJECT, RESUMED and FAILED are final.
 *
 * LOADED says the target checked END: with `loadedAfterEnd` (the source's reader, which
 * knows what it sent) it is refused until {@link ReturnRules.forwardEnded}.
 */
class ReturnRules {
  readonly #loadedAfterEnd: boolean;
  #phase: ReturnPhase = "answer";
  #acked = false;
  #iterationAcked = 0;
  /**
   * The last ITERATION the source handed to its channel, once it tracks them (its reader,
   * from {@link ReturnRules.trackIterations}); `undefined`: no bound (an encoder, or a
   * decoder not told what went out).
   */
  #iterationSent: number | undefined;
  #ended = false;

  constructor(loadedAfterEnd: boolean) {
    this.#loadedAfterEnd = loadedAfterEnd;
  }

  /** From now on an ITERATION_ACK must name an ITERATION {@link forwardIteration} announced. */
  trackIterations(): void {
    this.#iterationSent ??= 0;
  }

  /** The source is handing ITERATION `iteration` to its channel: it may be acknowledged. */
  forwardIteration(iteration: number): void {
    if (this.#iterationSent !== undefined)
      this.#iterationSent = Math.max(this.#iterationSent, iteration);
  }

  /** The source handed END to its channel: LOADED may come from now on. */
  forwardEnded(): void {
    this.#ended = true;
  }

  accept(msg: ReturnMessage, offset: number): void {
    const fail = (detail: string): never => {
      throw new StreamError("EPROTO", msg.type, offset, "order", detail);
    };
    const phase = this.#phase;
    if (phase === "done") fail(`${msg.type} after the final message`);
    switch (msg.type) {
      case "FAILED":
      case "REJECT":
        if (msg.type === "REJECT" && phase !== "answer")
          fail("REJECT after the handshake was answered");
        this.#phase = "done";
        return;
      case "ACCEPT":
        if (phase !== "answer") fail("a second ACCEPT");
        this.#phase = "accepted";
        return;
      case "SWITCHOVER_ACK":
        if (phase !== "accepted" || this.#acked) fail("SWITCHOVER_ACK outside precopy or repeated");
        this.#acked = true;
        return;
      case "ITERATION_ACK":
        if (phase !== "accepted") fail("ITERATION_ACK outside precopy");
        if (msg.iteration <= this.#iterationAcked)
          fail(`ITERATION_ACK ${msg.iteration} after ${this.#iterationAcked}`);
        // It says every record up to that ITERATION was applied: one not sent yet cannot
        // have been, and the source would skip its wait for the target to catch up.
        if (this.#iterationSent !== undefined && msg.iteration > this.#iterationSent)
          fail(
            `ITERATION_ACK ${msg.iteration} before the source sent ITERATION ${msg.iteration} (last sent: ${this.#iterationSent})`,
          );
        this.#iterationAcked = msg.iteration;
        return;
      case "LOADED":
        if (phase !== "accepted") fail("LOADED before ACCEPT or repeated");
        if (this.#loadedAfterEnd && !this.#ended)
          fail("LOADED before the source sent END: the target cannot have checked the VM");
        this.#phase = "loaded";
        return;
      case "RESUMED":
        if (phase !== "loaded") fail("RESUMED before LOADED");
        this.#phase = "done";
        return;
    }
  }
}

const TYPE_OF: Record<ReturnMessage["type"], number> = {
  ACCEPT: RecordType.ACCEPT,
  REJECT: RecordType.REJECT,
  SWITCHOVER_ACK: RecordType.SWITCHOVER_ACK,
  LOADED: RecordType.LOADED,
  RESUMED: RecordType.RESUMED,
  FAILED: RecordType.FAILED,
  ITERATION_ACK: RecordType.ITERATION_ACK,
};

/**
 * Encoder of the return path (target → source). Framed like the forward stream, with its
 * own header (direction RETURN, echoing the forward stream's config digest) and sequence.
 */
export class ReturnPathEncoder {
  readonly #limits: StreamLimits;
  // The target answers LOADED only after its own decoder checked END.
  readonly #rules = new ReturnRules(false);
  #seq = 0;
  #version = FORMAT_VERSION;

  constructor(options: { readonly limits?: Partial<StreamLimits> } = {}) {
    this.#limits = resolveStreamLimits(options.limits);
  }

  /**
   * The return path's header; `configDigest` is the one from the forward stream's header,
   * `version` the forward stream's format version (default: this build's): the target
   * answers in the source's version, so an older source reads every answer.
   */
  start(configDigest: Uint8Array, version: number = FORMAT_VERSION): Uint8Array {
    const header = encodeStreamHeader(StreamDirection.RETURN, configDigest, version);
    this.#version = version;
    return header;
  }

  /** The format version of the header written (this build's before {@link start}). */
  get version(): number {
    return this.#version;
  }

  /** Frames one message. Out-of-order or out-of-bounds messages are refused (EINVAL). */
  message(msg: ReturnMessage): Uint8Array {
    if (msg.type === "LOADED") checkLoaded(msg.devices, this.#limits);
    if (!isKnownRecordType(this.#version, StreamDirection.RETURN, TYPE_OF[msg.type]))
      throw new MdevError(
        "EINVAL",
        `return path misuse: ${msg.type} does not exist in format version ${this.#version}`,
      );
    try {
      this.#rules.accept(msg, 0);
    } catch (err) {
      throw new MdevError("EINVAL", `return path misuse: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const type = TYPE_OF[msg.type];
    if (msg.type === "REJECT" || msg.type === "FAILED") {
      const r = reasonBytes(msg.reason, this.#limits);
      return frameWhole(type, this.#seq++, 2 + r.byteLength, (b) => b.u16(r.byteLength).raw(r));
    }
    if (msg.type === "LOADED") {
      return frameWhole(type, this.#seq++, loadedLength(msg.devices.length), (b) =>
        fillLoaded(b, msg),
      );
    }
    if (msg.type === "ITERATION_ACK") {
      return frameWhole(type, this.#seq++, ITERATION_ACK_LENGTH, (b) => fillIterationAck(b, msg));
    }
    return frameWhole(type, this.#seq++, 0, () => {});
  }
}

/** What the source's forward header said, which the return path's header must echo. */
export interface ForwardHeader {
  /** SHA-256 of the HANDSHAKE config: the VM the answers are about. */
  readonly configDigest: Uint8Array;
  /** The forward stream's format version: the target answers in it. */
  readonly version: number;
}

/**
 * Incremental decoder of the return path, with the same guarantees as the forward decoder:
 * bounded, CRC-checked, in order; violations are {@link StreamError}s.
 *
 * On the source it is told what went out ({@link ReturnPathDecoder.forwardStarted},
 * {@link ReturnPathDecoder.forwardEnded}): answers about another VM, in another format
 * version, or a LOADED before END was sent, are EPROTO.
 */
export class ReturnPathDecoder {
  readonly #limits: StreamLimits;
  readonly #frames: FrameReader;
  readonly #rules = new ReturnRules(true);
  #forward: Partial<ForwardHeader>;
  #headerChecked = false;

  /**
   * @param options.configDigest when given, the header must echo it (else EPROTO).
   * @param options.version when given, the header must carry it (else EPROTO).
   */
  constructor(
    options: {
      readonly limits?: Partial<StreamLimits>;
      readonly configDigest?: Uint8Array;
      readonly version?: number;
    } = {},
  ) {
    this.#limits = resolveStreamLimits(options.limits);
    this.#frames = new FrameReader(StreamDirection.RETURN, this.#limits);
    this.#forward = { configDigest: options.configDigest, version: options.version };
  }

  /** The return path's header, once it arrived. */
  get header(): StreamHeader | undefined {
    return this.#frames.header;
  }

  /**
   * The source is about to send its forward header: the return path's header must echo
   * its config digest and version. Throws the violation at once if that header is here.
   */
  forwardStarted(forward: ForwardHeader): void {
    this.#forward = forward;
    // The source tells this reader each ITERATION it sends (forwardIteration).
    this.#rules.trackIterations();
    this.#headerChecked = false;
    this.#guard(() => this.#checkHeader());
  }

  /**
   * The source is about to send ITERATION `iteration`: from now on the target may
   * acknowledge it. Once {@link forwardStarted} was called, an ITERATION_ACK of an
   * iteration not announced here is EPROTO (`order`).
   */
  forwardIteration(iteration: number): void {
    this.#rules.forwardIteration(iteration);
  }

  /**
   * The source is about to send END: LOADED may come from now on. Before, the target
   * cannot have checked END's digests, so a LOADED then is EPROTO (`order`).
   */
  forwardEnded(): void {
    this.#rules.forwardEnded();
  }

  /** Feeds bytes; yields each complete, checked message. */
  *push(chunk: Uint8Array): Generator<ReturnRecord, void, undefined> {
    for (const frame of this.#frames.push(chunk)) {
      const record = this.#guard((): ReturnRecord => {
        this.#checkHeader();
        const name = recordTypeName(frame.type);
        const c = new ByteCursor(frame.payload, name, frame.offset + FRAME_HEADER_LENGTH);
        const msg = decodeReturnMessage(frame.type, c, this.#limits);
        this.#rules.accept(msg, frame.offset);
        return Object.assign(msg, { seq: frame.seq, offset: frame.offset });
      });
      yield record;
    }
  }

  /** Declares the end of input; fails on a cut message. */
  finish(): void {
    this.#frames.finish();
  }

  /** Runs `step`; a stream violation fails the decoder for good. */
  #guard<T>(step: () => T): T {
    try {
      return step();
    } catch (err) {
      if (err instanceof StreamError) this.#frames.fail(err);
      throw err;
    }
  }

  /** The header against the forward one, once both are known (checked once). */
  #checkHeader(): void {
    const header = this.#frames.header;
    if (header === undefined || this.#headerChecked) return;
    const { configDigest, version } = this.#forward;
    if (configDigest && !digestsEqual(header.configDigest, configDigest)) {
      throw new StreamError(
        "EPROTO",
        "HEADER",
        16,
        "config-digest",
        "return path answers a different VM",
      );
    }
    if (version !== undefined && header.version !== version) {
      throw new StreamError(
        "EPROTO",
        "HEADER",
        8,
        "version",
        `return path is in format version ${header.version}; the forward stream is version ${version}`,
      );
    }
    this.#headerChecked = true;
  }
}
