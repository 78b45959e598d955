import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { FRAME_HEADER_LENGTH, FRAME_TRAILER_LENGTH } from "@mdevkit/core";
import { LaneOutput } from "./lane-output.js";
import { type Lane, StreamTap, type StreamUnit } from "./stream-tap.js";

/** What the proxy does to the stream when its trigger goes by. */
export type WireFaultKind =
  /** Reset both connections; the triggering unit is not delivered. */
  | "drop"
  /** Hold every byte, both ways, from the triggering unit until {@link FaultProxy.release}. */
  | "stall"
  /** Flip one bit in the middle of the unit's payload (its CRC trailer when it has none). */
  | "corrupt"
  /** Deliver the unit twice. */
  | "duplicate"
  /** Deliver the next unit of the lane first, then this one. */
  | "reorder"
  /** Deliver both ways at a trickle for a while, from the triggering unit on. */
  | "throttle"
  /** Deliver the unit untouched and report it: the moment for a process fault. */
  | "observe";

/**
 * When the fault fires: the `occurrence`-th unit (0-based) of record type `type` in `lane`,
 * or the unit holding byte `byteOffset` of the lane.
 */
export type Trigger =
  | {
      readonly lane: Lane;
      readonly type: string;
      readonly occurrence: number;
      /** Count only units of `type` after the first unit of this type went by in the lane. */
      readonly after?: string;
    }
  | { readonly lane: Lane; readonly byteOffset: number };

/** The fault a proxy injects, once, into the first connection through it. */
export interface WireFault {
  readonly kind: WireFaultKind;
  readonly trigger: Trigger;
  /** `throttle`: bytes per second while trickling (default 64 KiB/s). */
  readonly trickleBytesPerSecond?: number;
  /** `throttle`: how long the trickle lasts, ms (default 3000). */
  readonly trickleMs?: number;
  /** `reorder`: longest wait for a next unit to swap with, ms (default 1000). */
  readonly reorderWaitMs?: number;
}

/** What happened when the trigger went by. */
export interface Fired {
  readonly unit: Omit<StreamUnit, "bytes">;
  /** Ms since the proxy started. */
  readonly atMs: number;
  /** `reorder` only: false when no next unit came in time, so it was only delayed. */
  readonly swapped?: boolean;
}

/**
 * A TCP proxy between a real `migrate` and a real `listen`: it cuts both directions into
 * stream units ({@link StreamTap}) and injects one {@link WireFault} at its trigger. Later
 * connections (a retry) pass untouched. Every unit it saw is logged in `units`.
 */
export class FaultProxy {
  readonly #server: Server;
  readonly #upstream: { host: string; port: number };
  readonly #fault: WireFault;
  readonly #started = performance.now();
  readonly #sockets = new Set<Socket>();
  readonly #outputs: LaneOutput[] = [];
  #connections = 0;
  #fired = false;
  #resolveFired!: (f: Fired) => void;
  /** Resolves when the trigger went by (never, if the stream never reached it). */
  readonly fired: Promise<Fired>;
  /** Type names of every unit seen on the faulted connection, per lane, in order. */
  readonly units: { forward: string[]; return: string[] } = { forward: [], return: [] };

  private constructor(server: Server, upstream: { host: string; port: number }, fault: WireFault) {
    this.#server = server;
    this.#upstream = upstream;
    this.#fault = fault;
    this.fired = new Promise((resolve) => {
      this.#resolveFired = resolve;
    });
    server.on("connection", (s) => this.#connect(s));
  }

  /** Starts a proxy on an ephemeral loopback port in front of `upstream` (`tcp://HOST:PORT`). */
  static async start(upstream: string, fault: WireFault): Promise<FaultProxy> {
    const url = new URL(upstream);
    const server = createServer({ noDelay: true, pauseOnConnect: true });
    const proxy = new FaultProxy(server, { host: url.hostname, port: Number(url.port) }, fault);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return proxy;
  }

  /** Where the source should connect. */
  get url(): string {
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("proxy not listening");
    return `tcp://127.0.0.1:${address.port}`;
  }

  /** True once the trigger went by. */
  get hasFired(): boolean {
    return this.#fired;
  }

  /** Ends a `stall`: everything held is delivered, and traffic flows again. */
  release(): void {
    for (const out of this.#outputs) out.setMode("pass");
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    for (const out of this.#outputs) out.dispose();
    this.#server.close();
    await once(this.#server, "close").catch(() => {});
  }

  #connect(source: Socket): void {
    const faulted = this.#connections++ === 0;
    const target = connect({ ...this.#upstream, noDelay: true });
    const forward = new LaneOutput(source, target);
    const back = new LaneOutput(target, source);
    for (const s of [source, target]) {
      this.#sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        this.#sockets.delete(s);
        // One side gone: the other sees it go too, after what was already queued for it.
        (s === source ? forward : back).end();
      });
    }
    this.#outputs.push(forward, back);
    target.once("connect", () => {
      this.#pipe("forward", source, forward, faulted ? [forward, back] : undefined);
      this.#pipe("return", target, back, faulted ? [forward, back] : undefined);
      source.resume();
    });
    target.once("error", () => source.destroy());
  }

  #pipe(lane: Lane, from: Socket, out: LaneOutput, both: LaneOutput[] | undefined): void {
    if (both === undefined) {
      from.on("data", (chunk: Buffer) => out.send(chunk));
      from.on("end", () => out.end());
      return;
    }
    const tap = new StreamTap(lane);
    let reorderHeld: { unit: StreamUnit; timer: NodeJS.Timeout } | undefined;
    const trigger = this.#fault.trigger;
    let counting = !("after" in trigger) || trigger.after === undefined;
    let counted = 0;
    const matches = (unit: StreamUnit): boolean => {
      if (trigger.lane !== unit.lane) return false;
      if ("byteOffset" in trigger) {
        const end = unit.offset + unit.bytes.byteLength;
        return unit.offset <= trigger.byteOffset && trigger.byteOffset < end;
      }
      if (!counting) {
        counting = unit.type === trigger.after;
        return false;
      }
      return unit.type === trigger.type && counted++ === trigger.occurrence;
    };
    from.on("data", (chunk: Buffer) => {
      for (const unit of tap.push(chunk)) {
        this.units[lane].push(unit.type);
        if (reorderHeld) {
          // The swap: the unit after the held one goes first.
          clearTimeout(reorderHeld.timer);
          out.send(unit.bytes);
          out.send(reorderHeld.unit.bytes);
          this.#report(reorderHeld.unit, { swapped: true });
          reorderHeld = undefined;
          continue;
        }
        if (this.#fired || !matches(unit)) {
          out.send(unit.bytes);
          continue;
        }
        this.#fired = true;
        switch (this.#fault.kind) {
          case "drop":
            this.#report(unit);
            for (const s of this.#sockets) s.resetAndDestroy();
            return;
          case "stall":
            for (const o of both) o.setMode("hold");
            out.send(unit.bytes);
            this.#report(unit);
            break;
          case "corrupt":
            out.send(corrupted(unit.bytes));
            this.#report(unit);
            break;
          case "duplicate":
            out.send(unit.bytes);
            out.send(unit.bytes);
            this.#report(unit);
            break;
          case "reorder": {
            const held = unit;
            const timer = setTimeout(() => {
              if (reorderHeld?.unit !== held) return;
              reorderHeld = undefined;
              out.send(held.bytes);
              this.#report(held, { swapped: false });
            }, this.#fault.reorderWaitMs ?? 1000);
            reorderHeld = { unit: held, timer };
            break;
          }
          case "throttle": {
            const rate = this.#fault.trickleBytesPerSecond ?? 64 * 1024;
            for (const o of both) o.setMode("trickle", rate);
            setTimeout(() => {
              for (const o of both) o.setMode("pass");
            }, this.#fault.trickleMs ?? 3000).unref();
            out.send(unit.bytes);
            this.#report(unit);
            break;
          }
          case "observe":
            out.send(unit.bytes);
            this.#report(unit);
            break;
        }
      }
    });
    from.on("end", () => {
      out.send(tap.rest());
      out.end();
    });
  }

  #report(unit: StreamUnit, extra: { swapped?: boolean } = {}): void {
    const { bytes: _bytes, ...rest } = unit;
    this.#resolveFired({ unit: rest, atMs: performance.now() - this.#started, ...extra });
  }
}

/** A copy of a record unit with one bit flipped mid-payload (or in the CRC, when empty). */
function corrupted(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes);
  const payload = copy.byteLength - FRAME_HEADER_LENGTH - FRAME_TRAILER_LENGTH;
  const at =
    payload > 0
      ? FRAME_HEADER_LENGTH + Math.floor(payload / 2)
      : copy.byteLength - FRAME_TRAILER_LENGTH;
  copy[at] = (copy[at] as number) ^ 0x10;
  return copy;
}
