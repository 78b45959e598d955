/**
 * A vGPU's migratable state as plain data: exactly what crosses the wire, all guest-visible
 * (guest frames, guest-programmed registers, graphics addresses relative to the
 * partition). The stream format encodes and decodes this; the model snapshots and restores it.
 */

/** Execlist state of one engine (`intel_vgpu_execlist`). */
export interface EngineImage {
  /** ELSP dwords written so far for the next submission, and how many. */
  readonly elsp: readonly number[];
  readonly elspIndex: number;
  /** The last two submitted ELSP quadruples (execlist slots 0 and 1), 8 dwords. */
  readonly slots: readonly number[];
  /** CSB write pointer (0–5). */
  readonly csbWrite: number;
  /** Context id of the guest's last submission on this engine. */
  readonly lastSubmittedSeq: number;
}

/** A queued (not yet dispatched) workload: the ring and the four ELSP dwords that made it. */
export interface WorkloadImage {
  readonly engine: number;
  readonly elsp: readonly number[];
}

/** One PPGTT address space (roots only: guest-physical addresses). */
export interface MmImage {
  readonly id: number;
  readonly rootType: 3 | 4;
  readonly pdps: readonly number[];
}

/** Display pipe. */
export interface PipeImage {
  readonly enabled: boolean;
  readonly vblankCount: number;
}

/** Everything a target needs to continue a vGPU. */
export interface VgpuImage {
  /** The device's virtual time (ticks since power-on): vblank phase and workload timing. */
  readonly tick: number;
  readonly cfg: Uint8Array;
  readonly vreg: readonly (readonly [number, number])[];
  readonly sreg: readonly (readonly [number, number])[];
  /** Guest GGTT PTEs as (lo, hi) pairs. */
  readonly ggtt: Uint32Array;
  /** Parked first halves of PTEs: (index, low dword). Stream v2 only. */
  readonly partialPtes: readonly (readonly [number, number])[];
  /** Guest fence register values as (lo, hi). */
  readonly fences: readonly (readonly [number, number])[];
  readonly mms: readonly MmImage[];
  readonly engines: readonly EngineImage[];
  /** Queued workloads, in submission order per engine. */
  readonly workloads: readonly WorkloadImage[];
  readonly display: readonly PipeImage[];
  readonly opregion: Uint8Array;
}
