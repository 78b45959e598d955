import type { ReturnMessage, ReturnRecord } from "../stream/records.js";
import type { ForwardHeader } from "../stream/return-path.js";

/** Transport kinds mdevkit knows. */
export type TransportKind = "tcp" | "unix" | "tls" | "file" | "memory";

/** What a channel can do, so the engine adapts (e.g. no return path → no two-phase handover). */
export interface ChannelCapabilities {
  readonly kind: TransportKind;
  /** True when the target can answer (ACCEPT, LOADED, ...). False for a file. */
  readonly returnPath: boolean;
  /** True when the peer proved its identity (TLS with client certificates or PSK). */
  readonly authenticated: boolean;
  /** True when the bytes are encrypted on the wire. */
  readonly encrypted: boolean;
}

/** What both ends share. */
export interface ChannelBase {
  /** Who the other end is, e.g. `tcp://127.0.0.1:4444` or `file:///var/lib/vm.save`. */
  readonly peer: string;
  readonly capabilities: ChannelCapabilities;
  /** Flushes what was sent, ends the channel and releases it. Idempotent. */
  close(): Promise<void>;
  /**
   * Tears the channel down at once, dropping unsent bytes (failure paths). Pending sends
   * and closes settle at once (sends reject).
   */
  destroy(reason?: Error): void;
}

/** Source end of the return path: the target's answers, decoded and validated. */
export interface ReturnPathReader {
  /** Next answer, or `undefined` once the target closed the path. Fails with StreamError/TransportError. */
  next(): Promise<ReturnRecord | undefined>;
  /**
   * The format version of the return path's header once it arrived: once the source told
   * {@link ReturnPathReader.forwardStarted}, the forward stream's (any other fails the reader).
   */
  readonly version?: number | undefined;
  /**
   * The source is about to hand its forward header to the channel: the return path's header
   * must echo its config digest and format version, else the reader fails (StreamError
   * EPROTO, rule `config-digest` or `version`). Called before the header is sent.
   */
  forwardStarted(forward: ForwardHeader): void;
  /**
   * The source is about to hand ITERATION `iteration` to the channel: only from here on may
   * the target acknowledge it. An ITERATION_ACK of an iteration not announced yet claims
   * records the target cannot have applied, and fails the reader (StreamError EPROTO, rule
   * `order`). A reader that wraps another must pass it on, as {@link forwardStarted}:
   * the inner reader, told of the start, bounds acks from then on.
   */
  forwardIteration(iteration: number): void;
  /**
   * The source is about to hand END to the channel: only from here on may LOADED come. A
   * LOADED read before answers a stream the target cannot have checked, and fails the reader
   * (StreamError EPROTO, rule `order`).
   */
  forwardEnded(): void;
}

/** Target end of the return path. */
export interface ReturnPathWriter {
  /**
   * Opens the return path: sends its header, echoing the forward stream's config digest, in
   * `version` (the forward stream's format version; default this build's). Must precede
   * the first {@link ReturnPathWriter.send}.
   */
  start(configDigest: Uint8Array, version?: number): Promise<void>;
  /** Sends one answer (out-of-order answers are refused, EINVAL). */
  send(msg: ReturnMessage): Promise<void>;
}

/**
 * The source's end: ordered bytes out, answers in. Frames come from the stream encoder and
 * are written as one corked writev; the promise settles when the transport can take more
 * (backpressure), so a source that awaits every send never buffers more than one record.
 */
export interface SourceChannel extends ChannelBase {
  readonly role: "source";
  /**
   * Writes the frames in order. Views are not copied: keep them unchanged until this settles.
   *
   * A write waits for the peer (backpressure), so a peer that stopped reading would hold it
   * forever: when `signal` aborts first, the channel is destroyed (a half-written record
   * cannot be taken back) and the promise rejects with the signal's reason. {@link destroy}
   * settles a pending send too, rejecting it.
   */
  send(frames: readonly Uint8Array[], signal?: AbortSignal): Promise<void>;
  /** The target's answers, or `null` for one-way channels (files). */
  readonly returnPath: ReturnPathReader | null;
}

/** The target's end: ordered bytes in, answers out. */
export interface TargetChannel extends ChannelBase {
  readonly role: "target";
  /**
   * The forward bytes, in arrival chunks (any size), ending when the source closes. Iterate
   * once; the iterator pulls, so a slow consumer slows the source down.
   */
  receive(): AsyncIterable<Uint8Array>;
  /**
   * Tells the channel that its consumer cannot make progress before `bytes` more arrive, so
   * it may hold the next chunk until then (a TCP channel sets `SO_RCVLOWAT`, sparing both
   * sides a wake-up per segment). Only a hint: chunks may still come smaller, and it must be
   * no more than the stream is sure to send. Optional: other channels hand over chunks as they
   * come.
   */
  expect?(bytes: number): void;
  /**
   * Whether the source is known to be gone — it hung up or reset the connection, or the
   * channel was torn down — found without reading: the bytes it sent before stay for
   * {@link receive}. For long work done for the source while nothing is read (building its
   * VM), which stops once this says so. Cheap enough to ask every few milliseconds.
   * Optional: without it, the work runs to its end and the next read or answer finds out.
   */
  hungUp?(): boolean;
  /** Where the answers go, or `null` for one-way channels (files). */
  readonly returnPath: ReturnPathWriter | null;
}

/** A channel with a return path, as a type (what the two-phase handover needs). */
export type DuplexSourceChannel = SourceChannel & { readonly returnPath: ReturnPathReader };

/** A target channel with a return path. */
export type DuplexTargetChannel = TargetChannel & { readonly returnPath: ReturnPathWriter };

/** True when the source channel can receive answers. */
export function hasReturnPath(c: SourceChannel): c is DuplexSourceChannel;
/** True when the target channel can send answers. */
export function hasReturnPath(c: TargetChannel): c is DuplexTargetChannel;
export function hasReturnPath(c: SourceChannel | TargetChannel): boolean {
  return c.returnPath !== null;
}

/** Accepts incoming migrations (each one a target channel). */
export interface ChannelListener {
  /** Where peers connect, as a URL (with the actual port when 0 was asked for). */
  readonly url: string;
  /** The next authenticated connection. Rejects once the listener is closed. */
  accept(): Promise<TargetChannel>;
  /** Stops listening; pending accepts reject. */
  close(): Promise<void>;
}
