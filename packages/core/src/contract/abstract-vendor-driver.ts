import { FsmError } from "../errors/fsm-error.js";
import { isMdevError, MdevError } from "../errors/mdev-error.js";
import { arcSessionEffect, isDirectArc } from "../fsm/arcs.js";
import { isLegalFlagSet, type MigFlagSet, MigFlags, migFlagsName } from "../fsm/mig-flags.js";
import { MigState, migStateName } from "../fsm/mig-state.js";
import type { DeviceContext } from "./device-context.js";
import { type DmaLogRange, validateDmaLogRanges } from "./dma-log-range.js";
import type { MigrationDataStream, PrecopyInfo } from "./migration-data-stream.js";
import { ResumingStream } from "./resuming-stream.js";
import { SavingStream } from "./saving-stream.js";
import type { DirtyTrackingMethod, VendorDriver } from "./vendor-driver.js";

const { ERROR, STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P } = MigState;

/**
 * The part of a device DMA log the base class drives; core's `DmaLogger` is one. A driver
 * that {@link AbstractVendorDriver.attachDmaLog attaches} one gets the three log hooks.
 */
export interface DeviceDmaLog {
  /** DMA_LOGGING_START after the contract's checks; returns the page size chosen. */
  start(ranges: readonly DmaLogRange[], pageSizeHint: number): number;
  /** DMA_LOGGING_STOP. */
  stop(): void;
  /** DMA_LOGGING_REPORT: read-and-clear into `bitmap`. */
  readAndClear(iova: number, length: number, pageSize: number, bitmap: BigUint64Array): void;
}

/** Static description an {@link AbstractVendorDriver} subclass passes to its constructor. */
export interface DriverDescription {
  /** Capability flags; must be a legal set. */
  readonly migrationFlags: MigFlagSet;
  /** Dirty-tracking method of the device. */
  readonly dirtyTracking: DirtyTrackingMethod;
  /** Most bytes a resuming stream accepts (the device's maximum state size). */
  readonly maxStateBytes: number;
  /** PCI config space size; 256 (conventional) by default, 4096 for PCIe extended space. */
  readonly configSpaceSize?: 256 | 4096;
}

/**
 * Base class for vendor drivers, in the style of Level's `abstract-level`: every public
 * method checks the contract — the arc is a direct one for the declared flags, the data
 * session is in the right state, arguments are in bounds — and then calls a protected
 * `_hook` that holds only device-specific code. State is committed here after a hook
 * succeeds, so a plugin never tracks the FSM itself.
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
  #state: MigState = RUNNING;
  #saving: SavingStream | undefined;
  #resuming: ResumingStream | undefined;
  #logging = false;
  #dmaLog: DeviceDmaLog | undefined;

  protected constructor(ctx: DeviceContext, description: DriverDescription) {
    if (!isLegalFlagSet(description.migrationFlags)) {
      throw new MdevError(
        "EINVAL",
        `migration flags ${migFlagsName(description.migrationFlags)} are not a legal set`,
      );
    }
    if (!Number.isSafeInteger(description.maxStateBytes) || description.maxStateBytes <= 0) {
      throw new MdevError(
        "EINVAL",
        `maxStateBytes ${description.maxStateBytes} must be a positive integer`,
      );
    }
    this.ctx = ctx;
    this.migrationFlags = description.migrationFlags;
    this.dirtyTracking = description.dirtyTracking;
    this.configSpaceSize = description.configSpaceSize ?? 256;
    this.configSpace = new Uint8Array(this.configSpaceSize);
    this.#maxStateBytes = description.maxStateBytes;
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

  async #performArc(from: MigState, to: MigState): Promise<MigrationDataStream | undefined> {
    const p2p = (this.migrationFlags & MigFlags.P2P) !== 0;
    switch (arcSessionEffect(from, to)) {
      case "opens-saving": {
        if (to === STOP_COPY) {
          const stream = new SavingStream("stopcopy");
          stream.finish(await this._saveState({ afterPrecopy: false }));
          this.#saving = stream;
          return stream;
        }
        const stream = new SavingStream("precopy", () => this._precopyCollect());
        stream.push(await this._precopyStart(), true);
        this.#saving = stream;
        return stream;
      }
      case "opens-resuming": {
        await this._beginResuming();
        const stream = new ResumingStream(this.#maxStateBytes, (received) =>
          this._checkResumingPrefix(received),
        );
        this.#resuming = stream;
        return stream;
      }
      case "continues": {
        const saving = this.#requireSaving(from, to);
        if (to === STOP_COPY) {
          // The device stops here; precopy bytes not yet read stay queued ahead of the final state.
          const quiesce = from === PRE_COPY && !p2p;
          await this.#steps([
            quiesce ? [() => this._quiesceP2P(), () => this._resumeP2P()] : undefined,
            [() => this._stopDevice(), () => this._startDevice()],
            [async () => saving.finish(await this._saveState({ afterPrecopy: true }))],
          ]);
        } else if (to === PRE_COPY_P2P) {
          await this._quiesceP2P();
        } else {
          await this._resumeP2P();
        }
        return undefined;
      }
      case "ends": {
        if (from === RESUMING) {
          const resuming = this.#resuming;
          if (resuming === undefined)
            throw new FsmError("EIO", from, to, "no resuming session is open");
          // Validate and apply all-or-nothing; on failure the session stays open and the state stays RESUMING.
          await this._loadState(resuming.received());
          resuming.close();
          this.#resuming = undefined;
          return undefined;
        }
        if (from === PRE_COPY || from === PRE_COPY_P2P) await this._precopyEnd();
        this.#saving?.close();
        this.#saving = undefined;
        return undefined;
      }
      case "none":
        break;
    }
    if (from === RUNNING && to === RUNNING_P2P) await this._quiesceP2P();
    else if (from === RUNNING_P2P && to === RUNNING) await this._resumeP2P();
    else if (from === RUNNING && to === STOP) {
      await this.#steps([
        [() => this._quiesceP2P(), () => this._resumeP2P()],
        [() => this._stopDevice()],
      ]);
    } else if (from === RUNNING_P2P && to === STOP) await this._stopDevice();
    else if (from === STOP && to === RUNNING) {
      await this.#steps([
        [() => this._startDevice(), () => this._stopDevice()],
        [() => this._resumeP2P()],
      ]);
    } else if (from === STOP && to === RUNNING_P2P) await this._startDevice();
    else throw new FsmError("EINVAL", from, to, "arc has no handler (contract bug)");
    return undefined;
  }

  /**
   * Runs the hooks of one arc in order. If a step fails, the steps already done are undone
   * (in reverse, best effort) so a failed arc leaves the device as it was — the contract
   * for a failure that does not break the device. Steps without an undo are last.
   */
  async #steps(
    steps: readonly (readonly [() => unknown, (() => unknown)?] | undefined)[],
  ): Promise<void> {
    const done: (() => unknown)[] = [];
    try {
      for (const step of steps) {
        if (step === undefined) continue;
        await step[0]();
        if (step[1]) done.push(step[1]);
      }
    } catch (err) {
      for (const undo of done.reverse()) {
        try {
          await undo();
        } catch {
          // The original failure is what the caller must see.
        }
      }
      throw err;
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
    if (this.dirtyTracking !== "dma-logging") {
      throw new MdevError(
        "ENOTSUP",
        `device tracks dirty pages by ${this.dirtyTracking}, not DMA logging`,
      );
    }
    validateDmaLogRanges(ranges, pageSizeHint);
    if (this.#logging) throw new MdevError("EINVAL", "DMA logging already started");
    const chosen = await this._logStart(ranges, pageSizeHint);
    this.#logging = true;
    return chosen;
  }

  async logStop(): Promise<void> {
    if (!this.#logging) return;
    await this._logStop();
    this.#logging = false;
  }

  async logReadAndClear(
    iova: number,
    length: number,
    pageSize: number,
    bitmap: BigUint64Array,
  ): Promise<void> {
    if (!this.#logging) throw new MdevError("EINVAL", "DMA logging is not started");
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

  async reset(): Promise<void> {
    await this._reset();
    this.#closeStreams();
    this.#state = RUNNING;
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
   * Lets the base class serve DMA logging from `log` (call it in the constructor): the
   * device only tells the log about the writes it makes, and need not write the three
   * `_log*` hooks.
   */
  protected attachDmaLog(log: DeviceDmaLog): void {
    this.#dmaLog = log;
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
  /** Applies a config-space write; default stores the bytes. Override for read-only fields and BAR sizing. */
  protected _configWrite(offset: number, data: Uint8Array): void {
    this.configSpace.set(data, offset);
  }
  /** Starts device DMA logging; returns the chosen page size. Default: the attached log. */
  protected _logStart(
    ranges: readonly DmaLogRange[],
    pageSizeHint: number,
  ): Promise<number> | number {
    if (this.#dmaLog) return this.#dmaLog.start(ranges, pageSizeHint);
    throw new MdevError(
      "ENOTSUP",
      "driver declares DMA logging but attached no DMA log and implements no _logStart",
    );
  }
  /** Stops device DMA logging. Default: the attached log. */
  protected _logStop(): Promise<void> | void {
    this.#dmaLog?.stop();
  }
  /** Read-and-clear of the device's dirty log into `bitmap`. Default: the attached log. */
  protected _logReadAndClear(
    iova: number,
    length: number,
    pageSize: number,
    bitmap: BigUint64Array,
  ): Promise<void> | void {
    if (this.#dmaLog) return this.#dmaLog.readAndClear(iova, length, pageSize, bitmap);
    throw new MdevError(
      "ENOTSUP",
      "driver declares DMA logging but attached no DMA log and implements no _logReadAndClear",
    );
  }
}
