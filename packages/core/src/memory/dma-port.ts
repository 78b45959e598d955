import type { DmaAccess } from "../contract/device-context.js";
import { IOVA_LIMIT } from "../contract/dma-log-range.js";
import { DmaFaultError } from "../errors/dma-fault-error.js";
import { MdevError } from "../errors/mdev-error.js";
import type { DmaWriteObserver } from "./dma-write-observer.js";
import type { GuestMemory } from "./guest-memory.js";
import type { Iommu } from "./iommu.js";

/** Default largest single DMA transfer (64 MiB): bounds what one call may allocate. */
export const DEFAULT_MAX_DMA_TRANSFER = 64 * 2 ** 20;

/** One translated piece of an access: contiguous in both IOVA and guest space. */
interface Chunk {
  readonly iova: number;
  readonly gpa: number;
  readonly length: number;
}

/**
 * A device's window on guest memory through the IOMMU ({@link DmaAccess}).
 *
 * Every access is translated in full before any byte moves, so a fault (unmapped IOVA,
 * write to a read-only mapping, read of a write-only one) throws {@link DmaFaultError}
 * and leaves guest RAM untouched. Accesses may span several mappings; each piece is
 * copied separately. Writes land with {@link GuestMemory.writeUntracked} — device writes
 * never mark the CPU dirty log — and every attached {@link DmaWriteObserver} hears of
 * each piece, which is how DMA logging, vendor tracking and the test oracle see them.
 */
export class DmaPort implements DmaAccess {
  readonly iommu: Iommu;
  readonly memory: GuestMemory;
  readonly #maxTransfer: number;
  #observers: readonly DmaWriteObserver[] = [];

  constructor(iommu: Iommu, memory: GuestMemory, options: { maxTransfer?: number } = {}) {
    if (iommu.guestSize !== memory.size) {
      throw new MdevError(
        "EINVAL",
        `IOMMU guest size ${iommu.guestSize} differs from guest memory size ${memory.size}`,
      );
    }
    const max = options.maxTransfer ?? DEFAULT_MAX_DMA_TRANSFER;
    if (!Number.isSafeInteger(max) || max <= 0)
      throw new MdevError("EINVAL", `DMA transfer limit ${max} must be a positive integer`);
    this.iommu = iommu;
    this.memory = memory;
    this.#maxTransfer = max;
  }

  /** Adds an observer of device writes; returns a function that removes it. */
  attach(observer: DmaWriteObserver): () => void {
    this.#observers = [...this.#observers, observer];
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }

  read(iova: number, length: number): Uint8Array {
    const chunks = this.#translate(iova, length, "read");
    const out = new Uint8Array(length);
    let done = 0;
    for (const c of chunks) {
      out.set(this.memory.read(c.gpa, c.length), done);
      done += c.length;
    }
    return out;
  }

  write(iova: number, data: Uint8Array): void {
    const chunks = this.#translate(iova, data.length, "write");
    let done = 0;
    for (const c of chunks) {
      this.memory.writeUntracked(c.gpa, data.subarray(done, done + c.length));
      done += c.length;
    }
    // Observers run after all bytes landed, so none sees a half-written access.
    for (const c of chunks) for (const o of this.#observers) o.onDmaWrite(c.iova, c.gpa, c.length);
  }

  #translate(iova: number, length: number, access: "read" | "write"): Chunk[] {
    if (!Number.isSafeInteger(length) || length < 0 || length > this.#maxTransfer) {
      throw new MdevError(
        "EINVAL",
        `DMA ${access} of ${length} bytes: length must be an integer in [0, ${this.#maxTransfer}]`,
      );
    }
    if (!Number.isSafeInteger(iova) || iova < 0 || iova + length > IOVA_LIMIT) {
      throw new DmaFaultError(
        Number.isSafeInteger(iova) ? iova : 0,
        length,
        "out-of-bounds",
        Number.isSafeInteger(iova) ? iova : 0,
      );
    }
    const chunks: Chunk[] = [];
    let at = iova;
    const end = iova + length;
    while (at < end) {
      const m = this.iommu.find(at);
      if (m === undefined) throw new DmaFaultError(iova, length, "unmapped", at);
      if (access === "write" && !m.write) throw new DmaFaultError(iova, length, "read-only", at);
      if (access === "read" && !m.read) throw new DmaFaultError(iova, length, "write-only", at);
      const n = Math.min(end, m.iova + m.length) - at;
      chunks.push({ iova: at, gpa: m.gpa + (at - m.iova), length: n });
      at += n;
    }
    return chunks;
  }
}
