import { MdevError } from "../errors/mdev-error.js";
import type { StreamRecord } from "../stream/records.js";
import type { StreamDecoder } from "../stream/stream-decoder.js";
import type { TargetChannel } from "../transport/channel.js";
import type { VmConfig } from "../vm/vm-config.js";
import type { TargetStateName } from "./migration-events.js";
import type { TargetResult } from "./target-options.js";

/** What a target session reports while it works (the MigrationTarget relays it). */
export interface TargetSessionEvents {
  /** A record arrived. */
  record(type: StreamRecord["type"], offset: number): void;
  /** The handshake was accepted; the VM is built. */
  accepted(config: VmConfig): void;
  /** Every device loaded and LOADED was sent. */
  loaded(): void;
  /** The session entered `state`. */
  state(state: TargetStateName): void;
}

/** The target before a HANDSHAKE arrived: it holds nothing yet. */
export interface AwaitingHandshake {
  readonly kind: "awaiting-handshake";
}

/** The one {@link AwaitingHandshake} value. */
export const AWAITING_HANDSHAKE: AwaitingHandshake = { kind: "awaiting-handshake" };

/**
 * The target after a failure: the VM was destroyed and its admission given back. The
 * session keeps no reference to it, so nothing that outlives the session (its error's
 * stack, a caller holding the target) keeps guest RAM alive.
 */
export interface Discarded {
  readonly kind: "discarded";
}

/** The one {@link Discarded} value. */
export const DISCARDED: Discarded = { kind: "discarded" };

/**
 * Renders `err`'s stack now. V8 keeps an error's frames — and the object each method ran
 * on, such as the receiving state and its VM — until the stack is first read; an error
 * that outlives a failed session would keep its guest RAM alive through them.
 */
export function detachStack(err: unknown): void {
  if (err instanceof Error) void err.stack;
}

/**
 * What a session over `channel` waits for from its peer, with a deadline: unless
 * {@link PeerDeadline.met} or a new {@link PeerDeadline.arm} comes within the armed time,
 * the channel is destroyed and {@link PeerDeadline.expired} holds the ETIMEDOUT that
 * explains why the session ended. A peer that connects and sends nothing, half a header or
 * an HTTP request, or that handshakes and then goes silent, thus cannot hold the target
 * (its loading slot, the RAM reserved for its VM).
 */
export class PeerDeadline {
  readonly #channel: TargetChannel;
  #timer: NodeJS.Timeout | undefined;
  #armedMs = 0;
  #armedWhat = "";
  #expired: MdevError | undefined;

  constructor(channel: TargetChannel) {
    this.#channel = channel;
  }

  /** (Re)starts the deadline: `ms` from now; `what` names what did not come in time. */
  arm(ms: number, what: string): void {
    // The receive-idle deadline is re-armed for every socket read: restarting the running
    // timer in place spares the bulk pass a fresh Timeout (and its garbage) per read.
    if (this.#timer !== undefined && this.#armedMs === ms && this.#armedWhat === what) {
      this.#timer.refresh();
      return;
    }
    this.#armedMs = ms;
    this.#armedWhat = what;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#expired = new MdevError(
        "ETIMEDOUT",
        `${what} from ${this.#channel.peer} within ${ms} ms; dropped the connection`,
      );
      this.#channel.destroy(this.#expired);
    }, ms);
    // A silent peer's timer alone must not keep a process alive.
    this.#timer.unref();
  }

  /** The reason the session ended, when the deadline passed first. */
  get expired(): MdevError | undefined {
    return this.#expired;
  }

  /** What was awaited arrived (or the session ended): disarms the deadline. */
  met(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Feeds the channel's bytes through the decoder and each validated record to `step` until
 * it returns the result; `arrived` is told of every chunk (before it is decoded). ABORT
 * ends the session (ECONNABORTED); a stream that ends first is ECONNRESET.
 */
export async function readRecords(
  channel: TargetChannel,
  decoder: StreamDecoder,
  events: TargetSessionEvents,
  step: (record: StreamRecord) => Promise<TargetResult | undefined>,
  arrived: () => void = () => {},
): Promise<TargetResult> {
  for await (const chunk of channel.receive()) {
    arrived();
    for (const record of decoder.push(chunk)) {
      events.record(record.type, record.offset);
      if (record.type === "ABORT")
        throw new MdevError("ECONNABORTED", `the source aborted the migration: ${record.reason}`);
      const result = await step(record);
      if (result !== undefined) return result;
    }
    channel.expect?.(decoder.missing);
  }
  decoder.finish();
  throw new MdevError("ECONNRESET", "the source went away before GO; the VM was not started");
}

/** EPROTO for a record the state does not take (the decoder's order rules make it rare). */
export function unexpected(record: StreamRecord, state: TargetStateName): MdevError {
  return new MdevError("EPROTO", `${record.type} while the target is ${state}`);
}
