import { FsmError } from "../errors/fsm-error.js";
import { isMdevError, MdevError } from "../errors/mdev-error.js";
import { isDirectArc } from "../fsm/arcs.js";
import { isLegalFlagSet, type MigFlagSet, migFlagsName } from "../fsm/mig-flags.js";
import { MigState, migStateName } from "../fsm/mig-state.js";
import { DirtyBitmap } from "../memory/dirty-bitmap.js";
import { DmaLogger } from "../memory/dma-logger.js";
import { PAGE_SIZE } from "../memory/page.js";
import { VendorDirtyTracker } from "../memory/vendor-dirty-tracker.js";
import { type ArcHook, type ArcStep, arcPlan, type SessionAction } from "./arc-steps.js";
import { applyConfigWrite, type ConfigSpaceImage } from "./config-space-image.js";
import type { DeviceContext } from "./device-context.js";
import { DMA_LOG_MAX_RANGES, type DmaLogRange, validateDmaLogRanges } from "./dma-log-range.js";
import type { MigrationDataStream, PrecopyInfo } from "./migration-data-stream.js";
import { ResumingStream } from "./resuming-stream.js";
import { SavingStream } from "./saving-stream.js";
import type { DirtyTrackingMethod, VendorDriver } from "./vendor-driver.js";

const { ERROR, RUNNING, PRE_COPY, PRE_COPY_P2P } = MigState;

/** Static description an {@link AbstractVendorDriver} subclass passes to its constructor. */
export interface DriverDescription {
  /** Most bytes a resuming stream accepts (the device's maximum state size). */
  readonly maxStateBytes: number;
  /**
   * The device's power-on PCI config space and write mask; writes then go through the
   * mask (read-only bits keep their value). Without it: 256 (or `configSpaceSize`) zero
   * bytes, all writable.
   */
  readonly configSpace?: ConfigSpaceImage;
  /** PCI config space size when no {@link configSpace} is given; 256 by default. */
  readonly configSpaceSize?: 256 | 4096;
  /**
   * Narrows the plugin's flags for this one device (e.g. an option that runs STOP_COPY
   * only). Must be a legal set within `ctx.migrationFlags`; the plugin's flags otherwise.
   */
  readonly migrationFlags?: MigFlagSet;
  /**
   * Most ranges one DMA_LOGGING_START accepts (E2BIG above it; the VMM then merges ranges,
   * as QEMU does). Default and upper bound: {@link DMA_LOG_MAX_RANGES}.
   */
  readonly maxDmaLogRanges?: number;
}

/**
 * Base class for vendor drivers, in the style of Level's `abstract-level`: every public
 * method checks the contract — the arc is a direct one for the declared flags, the data
 * session is in the right state, arguments are in bounds — and then calls a protected
 * `_hook` that holds only device-specific code. Which hooks an arc calls, in what order and
 * with what undo, is the data in {@link ARC_STEPS}. State is committed here after an arc
 * succeeds, so a plugin never tracks the FSM itself.
 *
 * The base class also owns what every device repeats: whether the device is
 * {@link running}, the {@link tick} gate, DMA into guest memory with fault handling
 * ({@link dmaWrite}), and the dirty log of the method the host chose for this device
 * (a device DMA log or a vendor bitmap, both fed by {@link dmaWrite}).
 *
 * Hooks a plugin must write: {@link _stopDevice}, {@link _startDevice},
 * {@link _saveState}, {@link _loadState}, {@link _estimateStateSize},
 * {@link _compatibilityData}, and {@link _reset}. Optional ones have safe defaults.
 */
export abstract class AbstractVendorDriver implements VendorDriver {
  readonly migrationFlags: MigFlagSet;
  readonly dirtyTracking: DirtyTrackingMethod;
  readonly configSpaceSize: number;
  /** What the host wired this device to. */
  protected readonly ctx: DeviceContext;
  /** PCI config space contents; subclasses fill IDs and BARs in their constructor. */
  protected readonly configSpace: Uint8Array;
  readonly #maxStateBytes: number;
  readonly #maxDmaLogRanges: number;
  readonly #configWriteMask: Uint8Array | undefined;
  #state: MigState = RUNNING;
  #running = true;
  #saving: SavingStream | undefined;
  #resuming: ResumingStream | undefined;
  /** The device's DMA log, when the host chose DMA logging for it. */
  readonly #dmaLog: DmaLogger | undefined;
  /** The device's own dirty bitmap, when the host chose vendor reporting for it. */
  readonly #vendorLog: VendorDirtyTracker | undefined;
  #dmaLogging = false;

  protected constructor(ctx: DeviceContext, description: DriverDescription) {
    const flags = description.migrationFlags ?? ctx.migrationFlags;
    if (!isLegalFlagSet(flags)) {
      throw new MdevError("EINVAL", `migration flags ${migFlagsName(flags)} are not a legal set`);
    }
    if ((flags & ~ctx.migrationFlags) !== 0) {
      throw new MdevError(
        "EINVAL",
        `migration flags ${migFlagsName(flags)} are not within the plugin's ${migFlagsName(ctx.migrationFlags)}`,
      );
    }
    if (!Number.isSafeInteger(description.maxStateBytes) || description.maxStateBytes <= 0) {
      throw new MdevError(
        "EINVAL",
        `maxStateBytes ${description.maxStateBytes} must be a positive integer`,
      );
    }
    const maxRanges = description.maxDmaLogRanges ?? DMA_LOG_MAX_RANGES;
    if (!Number.isSafeInteger(maxRanges) || maxRanges < 1 || maxRanges > DMA_LOG_MAX_RANGES) {
      throw new MdevError(
        "EINVAL",
        `maxDmaLogRanges ${maxRanges} must be an integer from 1 to ${DMA_LOG_MAX_RANGES}`,
      );
    }
    this.ctx = ctx;
    this.migrationFlags = flags;
    this.dirtyTracking = ctx.dirtyTracking;
    const image = description.configSpace;
    if (image !== undefined && image.bytes.byteLength !== image.writeMask.byteLength) {
      throw new MdevError("EINVAL", "config space image and write mask differ in size");
    }
    this.configSpaceSize = image?.bytes.byteLength ?? description.configSpaceSize ?? 256;
    // Copies even of a Buffer (whose slice() is a view): the plugin may reuse its image.
    this.configSpace = image ? new Uint8Array(image.bytes) : new Uint8Array(this.configSpaceSize);
    this.#configWriteMask = image ? new Uint8Array(image.writeMask) : undefined;
    this.#maxStateBytes = description.maxStateBytes;
    this.#maxDmaLogRanges = maxRanges;
    if (ctx.dirtyTracking === "dma-logging") this.#dmaLog = new DmaLogger();
    if (ctx.dirtyTracking === "vendor-bitmap") {
      this.#vendorLog = new VendorDirtyTracker(ctx.guestMemory.pages);
    }
  }

  getState(): MigState {
    return this.#state;
  }

  async setState(next: MigState): Promise<MigrationDataStream | undefined> {
    const from = this.#state;
    if (!isDirectArc(this.migrationFlags, from, next)) {
      throw new FsmError(
        "EINVAL",
        from,
        next,
        `${migStateName(from)} -> ${migStateName(next)} is not a direct arc for a device with flags ${migFlagsName(this.migrationFlags)}`,
      );
    }
    let opened: MigrationDataStream | undefined;
    try {
      opened = await this.#performArc(from, next);
    } catch (err) {
      if (isMdevError(err) && err.enterErrorState) this.#enterError();
      if (err instanceof MdevError) throw err;
      throw new FsmError(
        "EIO",
        from,
        next,
        `${migStateName(from)} -> ${migStateName(next)} failed in the driver: ${String(err)}`,
        { cause: err },
      );
    }
    this.#state = next;
    return opened;
  }

  /** Runs the arc's steps from {@link ARC_STEPS}; returns the stream the arc opened, if any. */
  async #performArc(from: MigState, to: MigState): Promise<MigrationDataStream | undefined> {
    const plan = arcPlan(this.migrationFlags, from, to);
    if (plan === undefined)
      throw new FsmError("EINVAL", from, to, "arc has no plan (contract bug)");
    let opened: MigrationDataStream | undefined;
    const done: ArcHook[] = [];
    try {
      for (const step of plan.steps) {
        const result = step.hook === undefined ? undefined : await this.#callHook(step.hook, step);
        if (step.session !== undefined) {
          opened = this.#session(step.session, from, to, result) ?? opened;
        }
        if (step.undo !== undefined) done.push(step.undo);
      }
    } catch (err) {
      // Undo what this arc did, newest first, so a failed arc leaves the device as it was;
      // the original failure is what the caller must see.
      for (const undo of done.reverse()) {
        try {
          await this.#callHook(undo, {});
        } catch {}
      }
      throw err;
    }
    return opened;
  }

  /** Calls one hook, keeping {@link running} in step with stop and start. */
  async #callHook(hook: ArcHook, step: ArcStep): Promise<Uint8Array | undefined> {
    switch (hook) {
      case "_stopDevice":
        await this._stopDevice();
        this.#running = false;
        return undefined;
      case "_startDevice":
        await this._startDevice();
        this.#running = true;
        return undefined;
      case "_quiesceP2P":
        await this._quiesceP2P();
        return undefined;
      case "_resumeP2P":
        await this._resumeP2P();
        return undefined;
      case "_saveState":
        return this._saveState({ afterPrecopy: step.session === "finish-saving" });
      case "_loadState": {
        const resuming = this.#resuming;
        if (resuming === undefined) throw new MdevError("EIO", "no resuming session is open");
        // Validate and apply all-or-nothing; on failure the session stays open and the state stays RESUMING.
        await this._loadState(resuming.received());
        return undefined;
      }
      case "_beginResuming":
        await this._beginResuming();
        return undefined;
      case "_precopyStart":
        return this._precopyStart();
      case "_precopyEnd":
        await this._precopyEnd();
        return undefined;
    }
  }

  /** The session bookkeeping of a step; returns a stream the step opened. */
  #session(
    action: SessionAction,
    from: MigState,
    to: MigState,
    bytes: Uint8Array | undefined,
  ): MigrationDataStream | undefined {
    switch (action) {
      case "open-saving": {
        const stream = new SavingStream("stopcopy");
        stream.finish(bytes ?? new Uint8Array(0));
        this.#saving = stream;
        return stream;
      }
      case "open-precopy": {
        const stream = new SavingStream("precopy", () => this._precopyCollect());
        stream.push(bytes ?? new Uint8Array(0), true);
        this.#saving = stream;
        return stream;
      }
      case "finish-saving":
        // Precopy bytes not yet read stay queued ahead of the final state.
        this.#requireSaving(from, to).finish(bytes ?? new Uint8Array(0));
        return undefined;
      case "close-saving":
        this.#saving?.close();
        this.#saving = undefined;
        return undefined;
      case "open-resuming": {
        const stream = new ResumingStream(this.#maxStateBytes, (received) =>
          this._checkResumingPrefix(received),
        );
        this.#resuming = stream;
        return stream;
      }
      case "close-resuming":
        this.#resuming?.close();
        this.#resuming = undefined;
        return undefined;
    }
  }

  #requireSaving(from: MigState, to: MigState): SavingStream {
    if (this.#saving === undefined || this.#saving.closed) {
      throw new FsmError("EIO", from, to, "no saving session is open");
    }
    return this.#saving;
  }

  #closeStreams(): void {
    this.#saving?.close();
    this.#resuming?.close();
    this.#saving = undefined;
    this.#resuming = undefined;
  }

  #enterError(): void {
    this.#closeStreams();
    this.#state = ERROR;
  }

  async getDataSize(): Promise<number> {
    const size = await this._estimateStateSize();
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new MdevError("EIO", `driver estimated a stop-copy size of ${size} bytes`);
    }
    return size;
  }

  async precopyInfo(): Promise<PrecopyInfo> {
    if (this.#state !== PRE_COPY && this.#state !== PRE_COPY_P2P) {
      throw new MdevError(
        "EINVAL",
        `precopy info is only valid in PRE_COPY or PRE_COPY_P2P, device is in ${migStateName(this.#state)}`,
      );
    }
    const saving = this.#requireSaving(this.#state, this.#state);
    return {
      initialBytes: saving.initialBytes,
      dirtyBytes: saving.queuedDirtyBytes + (await this._precopyDirtyEstimate()),
    };
  }

  async logStart(ranges: readonly DmaLogRange[], pageSizeHint: number): Promise<number> {
    this.#requireMethod("dma-logging");
    validateDmaLogRanges(ranges, pageSizeHint);
    if (ranges.length > this.#maxDmaLogRanges) {
      throw new MdevError(
        "E2BIG",
        `DMA logging START has ${ranges.length} ranges, this device tracks at most ${this.#maxDmaLogRanges}`,
      );
    }
    if (this.#dmaLogging) throw new MdevError("EINVAL", "DMA logging already started");
    const chosen = await this._logStart(ranges, pageSizeHint);
    this.#dmaLogging = true;
    return chosen;
  }

  async logStop(): Promise<void> {
    if (!this.#dmaLogging) return;
    await this._logStop();
    this.#dmaLogging = false;
  }

  async logReadAndClear(
    iova: number,
    length: number,
    pageSize: number,
    bitmap: BigUint64Array,
  ): Promise<void> {
    if (!this.#dmaLogging) throw new MdevError("EINVAL", "DMA logging is not started");
    if (!Number.isSafeInteger(pageSize) || pageSize < 4096 || (pageSize & (pageSize - 1)) !== 0) {
      throw new MdevError(
        "EINVAL",
        `report page size ${pageSize} must be a power of two of at least 4096`,
      );
    }
    if (
      !Number.isSafeInteger(iova) ||
      !Number.isSafeInteger(length) ||
      iova < 0 ||
      length < 0 ||
      iova + length > Number.MAX_SAFE_INTEGER
    ) {
      throw new MdevError(
        "EOVERFLOW",
        `report range {iova: ${iova}, length: ${length}} overflows the IOVA space`,
      );
    }
    const pages = Math.ceil(length / pageSize);
    if (bitmap.length * 64 < pages) {
      throw new MdevError("EINVAL", `bitmap of ${bitmap.length} words cannot hold ${pages} pages`);
    }
    await this._logReadAndClear(iova, length, pageSize, bitmap);
  }

  async vendorDirtyStart(): Promise<void> {
    this.#requireMethod("vendor-bitmap");
    await this._vendorDirtyStart();
  }

  async vendorDirtyStop(): Promise<void> {
    if (this.#vendorLog?.started !== true) return;
    await this._vendorDirtyStop();
  }

  async reportDirtyPages(bitmap: BigUint64Array): Promise<void> {
    this.#requireMethod("vendor-bitmap");
    if (this.#vendorLog?.started !== true) {
      throw new MdevError("EINVAL", "vendor dirty reporting is not started");
    }
    const pages = this.ctx.guestMemory.pages;
    if (bitmap.length * 64 < pages) {
      throw new MdevError(
        "EINVAL",
        `bitmap of ${bitmap.length} words cannot hold ${pages} guest pages`,
      );
    }
    await this._reportDirtyPages(bitmap);
  }

  #requireMethod(method: DirtyTrackingMethod): void {
    if (this.dirtyTracking !== method) {
      throw new MdevError(
        "ENOTSUP",
        `device tracks dirty pages by ${this.dirtyTracking}, not ${method}`,
      );
    }
  }

  /**
   * Advances the simulated device by one step of its own work. Does nothing while the
   * device is not {@link running}, so a stopped device never changes; otherwise calls
   * {@link _tick}. When `_tick` throws, the device enters ERROR (only a reset leaves it)
   * instead of the exception taking down the process that hosts the VM.
   */
  tick(): void {
    if (!this.running) return;
    try {
      this._tick();
    } catch {
      this.#enterError();
    }
  }

  async reset(): Promise<void> {
    await this._reset();
    this.#closeStreams();
    this.#state = RUNNING;
    this.#running = true;
  }

  configRead(offset: number, length: number): Uint8Array {
    this.#checkConfigRange(offset, length);
    return this.configSpace.slice(offset, offset + length);
  }

  configWrite(offset: number, data: Uint8Array): void {
    this.#checkConfigRange(offset, data.byteLength);
    this._configWrite(offset, data);
  }

  #checkConfigRange(offset: number, length: number): void {
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.configSpaceSize
    ) {
      throw new MdevError(
        "EINVAL",
        `config space access at ${offset} of ${length} bytes is outside the ${this.configSpaceSize}-byte space`,
      );
    }
  }

  compatibilityData(): Uint8Array {
    return this._compatibilityData();
  }

  /**
   * Whether the device may act: between start and stop (RUNNING, RUNNING_P2P, PRE_COPY,
   * PRE_COPY_P2P) and not broken. Every device-originated action (DMA, interrupts, taking
   * work) depends on it; the base class keeps it in step with the stop and start hooks.
   */
  protected get running(): boolean {
    return this.#running && this.#state !== ERROR;
  }

  /**
   * Device DMA into guest memory through the IOMMU. Returns false when the IOMMU faults
   * (an unmapped or read-only IOVA the guest programmed: the guest's problem, which the
   * device reports its own way). The write reaches the device's dirty log even when it
   * faulted: a failed write may have moved some bytes, and over-reporting is safe where
   * missing a page is not.
   * @throws MdevError EIO when the device is not running: a stopped device must not DMA.
   */
  protected dmaWrite(iova: number, data: Uint8Array): boolean {
    this.#assertRunning("DMA write");
    try {
      this.ctx.dma.write(iova, data);
      return true;
    } catch (err) {
      if (isMdevError(err)) return false;
      throw err;
    } finally {
      this.#recordWrite(iova, data.byteLength);
    }
  }

  /**
   * Device DMA read from guest memory; `undefined` when the IOMMU faults.
   * @throws MdevError EIO when the device is not running.
   */
  protected dmaRead(iova: number, length: number): Uint8Array | undefined {
    this.#assertRunning("DMA read");
    try {
      return this.ctx.dma.read(iova, length);
    } catch (err) {
      if (isMdevError(err)) return undefined;
      throw err;
    }
  }

  /**
   * Marks guest frames `[gfn, gfn + count)` dirty in the vendor bitmap — for writes the
   * driver knows of by other means than {@link dmaWrite} (e.g. from its shadow page
   * tables). Ignored unless this device reports by vendor bitmap and reporting is started;
   * frames outside guest RAM are ignored.
   */
  protected markDirty(gfn: number, count = 1): void {
    const first = Math.max(0, gfn);
    const end = Math.min(this.ctx.guestMemory.pages, gfn + count);
    if (end > first) this.#vendorLog?.markFrames(first, end - first);
  }

  #recordWrite(iova: number, length: number): void {
    if (length <= 0) return;
    // The host maps guest RAM 1:1 (IOVA = GPA), so an IOVA page is a guest frame.
    this.#dmaLog?.onDmaWrite(iova, iova, length);
    if (this.#vendorLog !== undefined) {
      const first = Math.floor(iova / PAGE_SIZE);
      this.markDirty(first, Math.floor((iova + length - 1) / PAGE_SIZE) - first + 1);
    }
  }

  #assertRunning(what: string): void {
    if (!this.running) {
      throw new MdevError(
        "EIO",
        `driver bug: ${what} attempted while the device is stopped (${migStateName(this.#state)})`,
      );
    }
  }

  // ---- hooks: device-specific code lives below ----

  /** Stops the device: no DMA, no interrupts, no state change until started again. */
  protected abstract _stopDevice(): Promise<void> | void;
  /** Starts a stopped device (P2P-quiet; {@link _resumeP2P} follows when going to RUNNING). */
  protected abstract _startDevice(): Promise<void> | void;
  /**
   * The device's state for STOP_COPY, taken while it is stopped. `afterPrecopy` says a
   * PRE_COPY session already sent part of the state, so only the rest need be sent.
   */
  protected abstract _saveState(opts: { afterPrecopy: boolean }): Promise<Uint8Array> | Uint8Array;
  /**
   * Validates and applies a complete state image at RESUMING → STOP, all or nothing:
   * throw a typed {@link MdevError} and leave the device untouched if anything is wrong.
   */
  protected abstract _loadState(bytes: Uint8Array): Promise<void> | void;
  /** Upper bound (or documented estimate) of what {@link _saveState} will produce now. */
  protected abstract _estimateStateSize(): Promise<number> | number;
  /** Compatibility data for the handshake. */
  protected abstract _compatibilityData(): Uint8Array;
  /** Device-specific reset to the power-on RUNNING state. */
  protected abstract _reset(): Promise<void> | void;

  /** Stops starting new peer-to-peer DMA. Default: nothing (device does no P2P). */
  protected _quiesceP2P(): Promise<void> | void {}
  /** Allows peer-to-peer DMA again. Default: nothing. */
  protected _resumeP2P(): Promise<void> | void {}
  /** Called on STOP → RESUMING before the stream opens; e.g. reset internal state. */
  protected _beginResuming(): Promise<void> | void {}
  /** Early validation of received bytes (e.g. a header); throw to refuse the write. */
  protected _checkResumingPrefix(_received: Uint8Array): void {}
  /** Initial precopy data when PRE_COPY starts; start tracking own changes here. */
  protected _precopyStart(): Promise<Uint8Array> | Uint8Array {
    throw new MdevError("ENOTSUP", "driver declares PRE_COPY but implements no _precopyStart");
  }
  /** New precopy bytes for state changed since the last collection, or `undefined`. */
  protected _precopyCollect(): Uint8Array | undefined {
    return undefined;
  }
  /** Estimated bytes {@link _precopyCollect} would return now. */
  protected _precopyDirtyEstimate(): Promise<number> | number {
    return 0;
  }
  /** The precopy session ended without STOP_COPY (back to RUNNING); stop tracking. */
  protected _precopyEnd(): Promise<void> | void {}
  /**
   * Applies a config-space write: through the write mask of the image given to the
   * constructor, or storing the bytes when there is none. Override for side effects.
   */
  protected _configWrite(offset: number, data: Uint8Array): void {
    if (this.#configWriteMask === undefined) this.configSpace.set(data, offset);
    else applyConfigWrite(this.configSpace, this.#configWriteMask, offset, data);
  }
  /** The device's own work for one tick, called only while {@link running}. Default: none. */
  protected _tick(): void {}
  /** Starts device DMA logging; returns the chosen page size. Default: the built-in log. */
  protected _logStart(
    ranges: readonly DmaLogRange[],
    pageSizeHint: number,
  ): Promise<number> | number {
    return (this.#dmaLog as DmaLogger).start(ranges, pageSizeHint);
  }
  /** Stops device DMA logging. Default: the built-in log. */
  protected _logStop(): Promise<void> | void {
    this.#dmaLog?.stop();
  }
  /** Read-and-clear of the device's DMA log into `bitmap`. Default: the built-in log. */
  protected _logReadAndClear(
    iova: number,
    length: number,
    pageSize: number,
    bitmap: BigUint64Array,
  ): Promise<void> | void {
    (this.#dmaLog as DmaLogger).readAndClear(iova, length, pageSize, bitmap);
  }
  /** Starts vendor dirty reporting with nothing dirty. Default: the built-in bitmap. */
  protected _vendorDirtyStart(): Promise<void> | void {
    this.#vendorLog?.start();
  }
  /** Stops vendor dirty reporting. Default: the built-in bitmap. */
  protected _vendorDirtyStop(): Promise<void> | void {
    this.#vendorLog?.stop();
  }
  /**
   * Sets the bit of every guest page written since the last report, then forgets them.
   * Default: the built-in bitmap, fed by {@link dmaWrite} and {@link markDirty}.
   */
  protected _reportDirtyPages(bitmap: BigUint64Array): Promise<void> | void {
    const taken = new DirtyBitmap(this.ctx.guestMemory.pages);
    (this.#vendorLog as VendorDirtyTracker).readAndClear(taken);
    const words = taken.asBigUint64Array();
    for (let i = 0; i < words.length; i++) if (words[i] !== 0n) bitmap[i]! |= words[i]!;
  }
}
