import { MdevError } from "../errors/mdev-error.js";
import { quotePeerText } from "../errors/peer-text.js";
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
 * Feeds the channel's bytes through the decoder and each validated record to `step` until
 * it returns the result; `arrived` is told the size of every chunk (before it is decoded).
 * ABORT ends the session (ECONNABORTED); a stream that ends first is ECONNRESET.
 */
export async function readRecords(
  channel: TargetChannel,
  decoder: StreamDecoder,
  events: TargetSessionEvents,
  step: (record: StreamRecord) => Promise<TargetResult | undefined>,
  arrived: (bytes: number) => void = () => {},
): Promise<TargetResult> {
  for await (const chunk of channel.receive()) {
    arrived(chunk.byteLength);
    for (const record of decoder.push(chunk)) {
      events.record(record.type, record.offset);
      if (record.type === "ABORT")
        throw new MdevError(
          "ECONNABORTED",
          `the source aborted the migration: ${quotePeerText(record.reason)}`,
        );
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
