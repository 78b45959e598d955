/**
 * A sparse 32-bit register file: the vGPU's 2 MiB `vreg` (what the guest reads) and
 * `sreg` (the last value the guest wrote, GVT-g's shadow copy). Only non-zero dwords are
 * stored, so a 2 MiB file costs what the model actually touches.
 */
import { MdevError } from "@mdevkit/core";
import { MMIO_BYTES } from "./registers.js";

/** One sparse register file of {@link MMIO_BYTES}. */
export class RegisterFile {
  readonly #regs = new Map<number, number>();

  /** The dword at byte `offset` (0 if never written). */
  get(offset: number): number {
    return this.#regs.get(offset) ?? 0;
  }

  /** Stores `value` at `offset` (a dword-aligned offset inside the file). */
  set(offset: number, value: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset >= MMIO_BYTES || offset % 4 !== 0) {
      throw new MdevError(
        "EINVAL",
        `register offset 0x${offset.toString(16)} is not a dword of the 2 MiB MMIO file`,
      );
    }
    const v = value >>> 0;
    if (v === 0) this.#regs.delete(offset);
    else this.#regs.set(offset, v);
  }

  /** Sets `bits` at `offset`. */
  or(offset: number, bits: number): void {
    this.set(offset, this.get(offset) | bits);
  }

  /** Clears `bits` at `offset`. */
  clear(offset: number, bits: number): void {
    this.set(offset, this.get(offset) & ~bits);
  }

  /** Non-zero dwords in offset order. */
  entries(): [number, number][] {
    return [...this.#regs.entries()].sort((a, b) => a[0] - b[0]);
  }

  /** Number of non-zero dwords. */
  get size(): number {
    return this.#regs.size;
  }

  /** Replaces the contents with `entries` (already validated). */
  replace(entries: readonly (readonly [number, number])[]): void {
    this.#regs.clear();
    for (const [o, v] of entries) if (v !== 0) this.#regs.set(o, v);
  }

  /** Forgets everything (power-on). */
  reset(): void {
    this.#regs.clear();
  }
}
