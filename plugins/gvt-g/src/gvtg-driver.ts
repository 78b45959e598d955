/**
 * The GVT-g migration driver: one vGPU on {@link AbstractVendorDriver}. The base class
 * owns the state machine, sessions, the tick gate, DMA and the vendor bitmap; this class
 * maps the hooks onto the vGPU model:
 *
 * - stop = drain running workloads (their completion writes, CSB and interrupt land
 *   before the arc returns); queued ones stay queued and travel as ELSP dwords;
 * - PRE_COPY: compat, then the whole GGTT as initial bytes; GGTT rewrites become
 *   `ggtt-delta` documents (dirty bytes); STOP_COPY sends the rest;
 * - RESUMING: the compat record is checked as soon as it has arrived; at STOP the whole
 *   stream is decoded and validated before the model is rebuilt in GVT-g's restore order;
 * - START: latched, unmasked interrupts are delivered once, as the vGPU is scheduled again;
 * - dirty tracking: "iommu-pinned" pins every guest frame the GGTT or a shadowed PPGTT
 *   maps (the IOMMU reports them all on every sync); "vendor-bitmap" reports the frames
 *   the vGPU actually wrote, through the base class's DMA helper.
 */
import {
  AbstractVendorDriver,
  type DeviceContext,
  MdevError,
  MigFlags,
  MigState,
  migStateName,
} from "@mdevkit/core";
import { buildConfigSpace } from "./config-space.js";
import { stepVgpu } from "./guest-driver.js";
import type { PinPort } from "./host-space.js";
import {
  compatOf,
  compatProblem,
  type DecodedPrefix,
  type DecodedStream,
  decodeCompat,
  decodeStream,
  docAt,
  encodeCompat,
  encodeGgtt,
  encodeGgttDelta,
  encodeStopCopy,
  ggttDeltaBytes,
  precopyGgtt,
  stopCopyBound,
} from "./migration-format.js";
import { type GvtgOptions, parseGvtgOptions, renderPagesOf } from "./options.js";
import { GTT_WINDOW_OFFSET, MMIO_BYTES } from "./registers.js";
import { Vgpu } from "./vgpu.js";
import { ggttEntries, type VgpuType, vgpuTypeOf } from "./vgpu-types.js";

/** Capability flags: STOP_COPY and PRE_COPY (GGTT as initial bytes). GVT-g does no P2P DMA. */
export const GVTG_MIGRATION_FLAGS = MigFlags.STOP_COPY | MigFlags.PRE_COPY;
/** The MSI vector. */
export const GVTG_MSI_VECTOR = 0;
/** Precopy GGTT deltas a resuming stream accepts beyond one full image (bytes). */
const DELTA_BUDGET = 64 * 2 ** 20;

/** The most bytes one vGPU's stream can hold. */
export function maxStateBytes(t: VgpuType): number {
  // compat + a full GGTT + both register files at their 2 MiB worst case + deltas.
  return (
    4096 +
    8 * ggttEntries(t) +
    stopCopyBound(t, {
      vreg: 2 ** 19,
      sreg: 2 ** 19,
      mms: t.maxPpgttMms,
      workloads: 4096,
      partial: ggttEntries(t),
    }) +
    DELTA_BUDGET
  );
}

/** Driver of one GVT-g vGPU; create it through `gvtgPlugin.create(ctx)`. */
export class GvtgDriver extends AbstractVendorDriver {
  /** The vGPU type. */
  readonly type: VgpuType;
  /** Validated device options. */
  readonly options: GvtgOptions;
  /** The device model (exposed for tests and descriptions). */
  readonly vgpu: Vgpu;
  /** State documents already sent in this precopy session (the `end` record counts them). */
  #docsSent = 0;
  /** Whether the compat record of the current resuming session has been checked. */
  #prefixChecked = false;
  /** Resuming bytes already read for their GGTT (−1: past the precopy documents). */
  #previewed = 0;
  /** The GGTT the precopy documents received so far describe. */
  #previewGgtt: Uint32Array | undefined;
  /** The precopy documents read for the preload, which the load need not decode again. */
  #decoded: DecodedPrefix | undefined;
  /** The guest PTEs as RESUMING found them, kept once a preload changed them. */
  #ggttBefore: Uint32Array | undefined;

  constructor(ctx: DeviceContext) {
    const type = vgpuTypeOf(ctx.deviceType);
    const options = parseGvtgOptions(ctx.options);
    const configSpace = buildConfigSpace(type);
    super(ctx, {
      maxStateBytes: maxStateBytes(type),
      configSpace,
      ...(options.stopCopyOnly ? { migrationFlags: MigFlags.STOP_COPY } : {}),
    });
    if (ctx.dirtyTracking !== "iommu-pinned" && ctx.dirtyTracking !== "vendor-bitmap") {
      throw new MdevError(
        "EINVAL",
        `gvt-g reports dirty pages by iommu-pinned or vendor-bitmap, not ${ctx.dirtyTracking}`,
      );
    }
    if (ctx.dirtyTracking === "iommu-pinned" && ctx.pinner === undefined) {
      throw new MdevError(
        "EINVAL",
        "gvt-g with iommu-pinned tracking needs the host's page pinner",
      );
    }
    this.type = type;
    this.options = options;
    const pinner = ctx.pinner;
    // KVMGT pins every page it DMA-maps whatever the VMM tracks with; the IOMMU reports
    // the pins only when the VMM chose iommu-pinned tracking.
    const pins: PinPort | undefined = pinner && {
      pin: (gfn, count) => pinner.pin(gfn * 4096, count),
      unpin: (gfn) => pinner.unpin(gfn * 4096, 1),
    };
    const profile = options.profile;
    this.vgpu = new Vgpu({
      type,
      renderPages: renderPagesOf(profile),
      fbPages: profile === "heavy" ? type.heavyFramebufferPages : type.framebufferPages,
      seed: ctx.seed,
      guestPages: ctx.guestMemory.pages,
      // Guest config accesses through the vGPU land in the same space, through the same mask.
      config: { bytes: this.configSpace, writeMask: configSpace.writeMask },
      ports: {
        dmaWrite: (gpa, data) => this.dmaWrite(gpa, data),
        dmaRead: (gpa, length) => this.dmaRead(gpa, length),
        raiseMsi: () => this.#raiseMsi(),
      },
      ...(pins ? { pins } : {}),
    });
    this.vgpu.host.opregionVa = this.vgpu.host.allocMfn() * 4096;
  }

  /** Whether the device may act (public for tests and tools). */
  override get running(): boolean {
    return super.running;
  }

  /** Values only this host knows: DMA addresses, shadow frames, partition offsets, host fences. */
  hostOnlyValues(): number[] {
    const h = this.vgpu.host;
    return [
      ...h.dmaAddresses(),
      ...this.vgpu.ppgtt.shadowFrames(),
      h.apertureBase,
      h.hiddenBase,
      h.opregionVa,
      ...this.vgpu.hostFences.filter((f) => f !== 0),
    ];
  }

  /**
   * A guest 4-byte write to BAR0 (the MMIO file below 2 MiB, the GTT window from 8 MiB).
   * @throws MdevError EBUSY while the device is stopped (the VMM pauses vCPUs first, so
   *   a trapped access then is a harness bug); EINVAL for an offset outside BAR0 or a value
   *   that is not a u32.
   */
  guestMmioWrite(offset: number, value: number): void {
    this.#guestAccess(offset, value);
    this.vgpu.mmioWrite(offset, value);
  }

  /** A guest 8-byte write of GGTT entry `index` (lo, hi), with {@link guestMmioWrite}'s rules. */
  guestGgttWrite(index: number, lo: number, hi: number): void {
    this.#guestAccess(GTT_WINDOW_OFFSET + index * 8, lo);
    this.#guestAccess(GTT_WINDOW_OFFSET + index * 8, hi);
    this.vgpu.ggttWrite64(index, lo, hi);
  }

  #guestAccess(offset: number, value: number): void {
    if (!this.running) {
      throw new MdevError(
        "EBUSY",
        `gvt-g: guest MMIO while the device is ${migStateName(this.getState())}`,
      );
    }
    const inMmio = offset >= 0 && offset < MMIO_BYTES;
    const inGtt =
      offset >= GTT_WINDOW_OFFSET && offset < GTT_WINDOW_OFFSET + 8 * this.vgpu.ggtt.entries;
    if (!Number.isInteger(offset) || offset % 4 !== 0 || !(inMmio || inGtt)) {
      throw new MdevError(
        "EINVAL",
        `gvt-g: BAR0 offset ${offset} is not a dword of the MMIO file or GTT window`,
      );
    }
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new MdevError("EINVAL", `gvt-g: register value ${value} is not a u32`);
    }
  }

  #raiseMsi(): void {
    if (!this.running) {
      throw new MdevError(
        "EIO",
        `gvt-g bug: MSI while the device is ${migStateName(this.getState())}`,
      );
    }
    if (this.ctx.irq.count > GVTG_MSI_VECTOR) this.ctx.irq.raise(GVTG_MSI_VECTOR);
  }

  protected override _tick(): void {
    stepVgpu(this.vgpu, (gpa, data) => this.dmaWrite(gpa, data));
  }

  // ---- migration hooks ----

  protected _stopDevice(): void {
    this.vgpu.drain();
  }

  protected _startDevice(): void {
    // Restore step 7: as the vGPU goes back on the scheduler, latched and unmasked events
    // are delivered once (an MSI the source raised may have been lost with the pause).
    if (
      this.vgpu.interruptPending &&
      this.vgpu.msiEnabled &&
      this.ctx.irq.count > GVTG_MSI_VECTOR
    ) {
      this.ctx.irq.raise(GVTG_MSI_VECTOR);
    }
  }

  protected override _precopyStart(): Uint8Array {
    this.vgpu.ggtt.startTracking();
    this.#docsSent = 2;
    return concat([encodeCompat(this.#compat()), encodeGgtt(this.vgpu.ggtt.virtual)]);
  }

  protected override _precopyCollect(): Uint8Array | undefined {
    if (this.vgpu.ggtt.dirtyCount === 0) return undefined;
    this.#docsSent++;
    return encodeGgttDelta(this.vgpu.ggtt.virtual, this.vgpu.ggtt.takeDirty());
  }

  protected override _precopyDirtyEstimate(): number {
    const n = this.vgpu.ggtt.dirtyCount;
    return n === 0 ? 0 : ggttDeltaBytes(n);
  }

  protected override _precopyEnd(): void {
    this.vgpu.ggtt.stopTracking();
  }

  protected _saveState(opts: { afterPrecopy: boolean }): Uint8Array {
    // Encoded before this returns, so the table need not be copied.
    const image = this.vgpu.snapshot({ liveGgtt: true });
    const version = this.options.streamVersion;
    if (opts.afterPrecopy) {
      const delta = this.vgpu.ggtt.takeDirty();
      this.vgpu.ggtt.stopTracking();
      return encodeStopCopy(image, delta, this.#docsSent, version);
    }
    return concat([encodeCompat(this.#compat()), encodeStopCopy(image, undefined, 1, version)]);
  }

  protected _estimateStateSize(): number {
    const state = this.getState();
    const inPrecopy = state === MigState.PRE_COPY || state === MigState.PRE_COPY_P2P;
    const v = this.vgpu;
    const queued = Array.from({ length: v.engineCount }, (_, e) => v.workloads(e).length).reduce(
      (a, b) => a + b,
      0,
    );
    const bound = stopCopyBound(this.type, {
      // Room for what a drain at stop may still add (CSB entries, IIR bits).
      vreg: v.vreg.size + 16 * v.engineCount + 16,
      sreg: v.sreg.size,
      mms: v.ppgtt.mms.filter((m) => m !== undefined).length,
      workloads: queued,
      partial: v.ggtt.partial.size,
      ...(inPrecopy ? { delta: v.ggtt.dirtyCount } : {}),
    });
    return inPrecopy ? bound : encodeCompat(this.#compat()).byteLength + bound;
  }

  protected override _beginResuming(): void {
    this.#prefixChecked = false;
    this.#previewed = 0;
    this.#previewGgtt = undefined;
    this.#decoded = undefined;
    this.#ggttBefore = undefined;
  }

  protected override _checkResumingPrefix(received: Uint8Array): void {
    if (this.#prefixChecked) {
      this.#preloadGgtt(received);
      return;
    }
    if (received.byteLength < 12) return;
    // The compat record's length is fixed by the type: a wrong length is refused at once
    // instead of waiting for bytes that a corrupted header says are still to come.
    const expected = encodeCompat(this.#compat()).byteLength;
    const body = new DataView(received.buffer, received.byteOffset + 8, 4).getUint32(0, true);
    if (body !== expected - 12) {
      // A foreign magic is reported as such; a whole record of another type says which.
      const whole = docAt(received, 0);
      const problem = whole && compatProblem(decodeCompat(whole), this.type);
      throw new MdevError(
        "EPROTO",
        `gvt-g: incoming ${problem ? `vGPU has ${problem}` : `compat record of ${body + 12} bytes, a ${this.type.name} sends ${expected}`}`,
      );
    }
    const doc = docAt(received, 0);
    if (doc === undefined) return;
    const problem = compatProblem(decodeCompat(doc), this.type);
    if (problem !== undefined) throw new MdevError("EPROTO", `gvt-g: incoming vGPU has ${problem}`);
    this.#prefixChecked = true;
    this.#previewed = doc.byteLength;
    this.#preloadGgtt(received);
  }

  /**
   * Maps the GGTT of each precopy document as it arrives (RESUMING; the vGPU does not run),
   * the way mlx5 loads precopy images on write: re-emulating the whole partition's PTEs —
   * pinning and DMA-mapping every present frame — was most of the vGPU's load in the
   * downtime. The restore then redoes only the entries rewritten since, and the load
   * decodes only what follows these documents. Stops at the first document that is not
   * precopy GGTT: the final state is read whole by the load.
   */
  #preloadGgtt(received: Uint8Array): void {
    let changed = false;
    let at = this.#previewed;
    // Once the vGPU holds every earlier document's GGTT, a delta's entries are all to redo.
    const written: number[] | undefined = this.#decoded === undefined ? undefined : [];
    try {
      while (this.#previewed >= 0) {
        const doc = docAt(received, this.#previewed);
        if (doc === undefined) break;
        const ggtt = precopyGgtt(doc, this.type, this.#previewGgtt, written);
        if (ggtt === undefined) {
          this.#previewed = -1;
          break;
        }
        // The table changed in place: the load may start here only once it is mapped.
        this.#decoded = undefined;
        this.#previewGgtt = ggtt;
        this.#previewed += doc.byteLength;
        at = this.#previewed;
        changed = true;
      }
    } catch (err) {
      this.#undoPreload();
      throw err;
    }
    if (!changed || this.#previewGgtt === undefined) return;
    this.#ggttBefore ??= this.vgpu.ggtt.virtual.slice();
    this.vgpu.ggtt.preload(this.#previewGgtt, written);
    // The vGPU's GGTT is now the documents' before `at`: the load starts there.
    this.#decoded = { at, ggtt: this.#previewGgtt };
  }

  /** A refused load leaves the vGPU as RESUMING found it: the GGTT goes back too. */
  #undoPreload(): void {
    if (this.#ggttBefore !== undefined) this.vgpu.ggtt.preload(this.#ggttBefore);
    this.#ggttBefore = undefined;
    this.#previewed = -1;
    this.#decoded = undefined;
  }

  protected _loadState(bytes: Uint8Array): void {
    // Decoding validates everything into an image before the vGPU is rebuilt. It starts
    // after the precopy documents the preload read, and the restore redoes only the GGTT
    // entries written after them: the rest is mapped already.
    let decoded: DecodedStream;
    try {
      decoded = decodeStream(bytes, this.type, this.#decoded);
    } catch (err) {
      this.#undoPreload();
      throw err;
    }
    this.#ggttBefore = undefined;
    this.#decoded = undefined;
    this.vgpu.restore(decoded.image, decoded.ggttWritten);
  }

  protected _compatibilityData(): Uint8Array {
    return encodeCompat(this.#compat());
  }

  protected _reset(): void {
    // GVT-g's device-model-level reset also resets the virtual config space (MSI off,
    // BARs and command cleared), so the guest driver reprograms everything.
    this.configSpace.set(buildConfigSpace(this.type).bytes);
    this.vgpu.ggtt.stopTracking();
    this.vgpu.powerOn();
    this.#prefixChecked = false;
  }

  #compat() {
    return compatOf(this.type, this.options.streamVersion);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
