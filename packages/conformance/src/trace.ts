import type { DmaWriteObserver, GuestMemory } from "@mdevkit/core";
import { fingerprint } from "./bytes.js";

/** One thing a device did to the outside world, as the host saw it. */
export type TraceEvent =
  | {
      readonly kind: "dma";
      readonly iova: number;
      readonly length: number;
      /** The bytes that landed, or a SHA-256 digest of long writes (see `fingerprint`). */
      readonly data: string;
    }
  | { readonly kind: "irq"; readonly vector: number };

/**
 * Records, in order, every DMA write (address, length and the bytes that landed, or a
 * cryptographic digest of them when long) and every interrupt a device raises. It is
 * attached on the host side — to the `DmaPort` and the `InterruptCounter` — so what it
 * sees is what the device did, not what the plugin says it did.
 */
export class TraceRecorder implements DmaWriteObserver {
  readonly #memory: GuestMemory;
  readonly #events: TraceEvent[] = [];

  constructor(memory: GuestMemory) {
    this.#memory = memory;
  }

  /** Events so far, oldest first. */
  get events(): readonly TraceEvent[] {
    return this.#events;
  }

  /** Number of DMA writes so far. */
  get dmaWrites(): number {
    return this.#events.filter((e) => e.kind === "dma").length;
  }

  /** Number of interrupts so far. */
  get interrupts(): number {
    return this.#events.filter((e) => e.kind === "irq").length;
  }

  onDmaWrite(iova: number, gpa: number, length: number): void {
    const data = fingerprint(iova, this.#memory.read(gpa, length));
    this.#events.push({ kind: "dma", iova, length, data });
  }

  /** Records an interrupt on `vector`. */
  onInterrupt(vector: number): void {
    this.#events.push({ kind: "irq", vector });
  }

  /** Events recorded after the first `from`. */
  since(from: number): readonly TraceEvent[] {
    return this.#events.slice(from);
  }

  /** One line per event, for messages. */
  static format(events: readonly TraceEvent[], max = 6): string {
    const lines = events
      .slice(0, max)
      .map((e) =>
        e.kind === "dma"
          ? `DMA write iova=0x${e.iova.toString(16)} len=${e.length} data=${e.data}`
          : `interrupt vector ${e.vector}`,
      );
    if (events.length > max) lines.push(`… ${events.length - max} more`);
    return lines.join("; ");
  }
}
