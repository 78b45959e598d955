import type { InterruptLines } from "../contract/device-context.js";
import { MdevError } from "../errors/mdev-error.js";

/**
 * The host side of a device's interrupt lines: counts every raise per vector, so tests
 * and the conformance suite can observe interrupts instead of trusting the plugin.
 */
export class InterruptCounter implements InterruptLines {
  readonly count: number;
  readonly #raised: number[];
  #listener: ((vector: number) => void) | undefined;

  constructor(vectors: number) {
    if (!Number.isInteger(vectors) || vectors < 1 || vectors > 2048) {
      throw new MdevError(
        "EINVAL",
        `interrupt vector count ${vectors} must be 1..2048 (MSI-X limit)`,
      );
    }
    this.count = vectors;
    this.#raised = new Array<number>(vectors).fill(0);
  }

  raise(vector: number): void {
    if (!Number.isInteger(vector) || vector < 0 || vector >= this.count) {
      throw new MdevError(
        "EINVAL",
        `interrupt vector ${vector} is not wired (device has ${this.count})`,
      );
    }
    this.#raised[vector] = (this.#raised[vector] as number) + 1;
    this.#listener?.(vector);
  }

  /** Interrupts raised on `vector`, or on all vectors when omitted. */
  raised(vector?: number): number {
    if (vector === undefined) return this.#raised.reduce((a, b) => a + b, 0);
    return this.#raised[vector] ?? 0;
  }

  /** Calls `fn` on every raise (one listener; pass undefined to remove). */
  onRaise(fn: ((vector: number) => void) | undefined): void {
    this.#listener = fn;
  }
}
