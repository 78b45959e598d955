import {
  AbstractVendorDriver,
  type DeviceContext,
  type DirtyTrackingMethod,
  MdevError,
  MigFlags,
  type VendorPlugin,
} from "../../src/index.js";

const MAGIC = 0x544f5944; // "TOYD"

/** Knobs of the DMA toy device, for engine tests. */
export interface DmaToyOptions {
  readonly flags?: number;
  readonly dirtyTracking?: DirtyTrackingMethod;
  /** Throw from the STOP_COPY save hook. */
  readonly failSave?: boolean;
  /** Pages the device writes into (from page 16 up). */
  readonly ringPages?: number;
  /** Dirty-tracking methods the plugin offers; `[dirtyTracking]` by default. */
  readonly offered?: readonly DirtyTrackingMethod[];
  /** Most DMA-log ranges a device accepts. */
  readonly maxDmaLogRanges?: number;
  /** Fail STOP -> RUNNING (a target whose device cannot start). */
  readonly failStart?: boolean;
  /** A hook whose promise never settles: a driver waiting for an event that never comes. */
  readonly hang?: "stop" | "save" | "start" | "precopy";
  /**
   * With `hang`, called when the hung hook is entered: the hook waits for the promise it
   * returns instead of forever, going on when it resolves and failing with its reason
   * when it rejects (a driver whose event comes late). Only the hook's first call waits;
   * later calls go through at once.
   */
  readonly releaseHang?: () => Promise<void>;
  /**
   * Stop and load hooks that wait (a timer of `waitMs`) in the middle, as a driver waiting
   * on its hardware does, logging `stop+ N` / `stop- N` (`load± N`, `start± N`) to `log`, where N
   * numbers the devices this option built in creation order.
   */
  readonly slowHooks?: { readonly log: string[]; readonly waitMs: number };
}

/** Devices built with one `slowHooks` option so far: each one's number in the log. */
const slowHookDevices = new WeakMap<string[], number>();

/** Runs `hook` between log lines `name+ id` and `name- id`, waiting `waitMs` in between. */
async function slowHook(
  slow: NonNullable<DmaToyOptions["slowHooks"]>,
  name: string,
  id: number,
  hook: () => void,
): Promise<void> {
  slow.log.push(`${name}+ ${id}`);
  await new Promise((r) => setTimeout(r, slow.waitMs));
  hook();
  slow.log.push(`${name}- ${id}`);
}

/** What a hung hook returns. */
const never = <T>(): Promise<T> => new Promise<T>(() => {});

/**
 * A device that, on every tick while running, DMAs a 64-byte stamp into the next page of
 * a ring in guest RAM and raises an interrupt. Its state is (counter, ring position); its
 * dirty pages are reported by whichever method the test picks.
 */
export class DmaToyDriver extends AbstractVendorDriver {
  counter = 0;
  position = 0;
  readonly #ring: number;
  readonly #failSave: boolean;
  readonly #failStart: boolean;
  #hang: DmaToyOptions["hang"];
  readonly #releaseHang: (() => Promise<void>) | undefined;
  readonly #slow: DmaToyOptions["slowHooks"];
  readonly #id: number;

  constructor(ctx: DeviceContext, options: DmaToyOptions) {
    super(ctx, {
      maxStateBytes: 64,
      ...(options.maxDmaLogRanges === undefined
        ? {}
        : { maxDmaLogRanges: options.maxDmaLogRanges }),
    });
    this.#ring = options.ringPages ?? 32;
    this.#failSave = options.failSave ?? false;
    this.#failStart = options.failStart ?? false;
    this.#hang = options.hang;
    this.#releaseHang = options.releaseHang;
    this.#slow = options.slowHooks;
    this.#id = 0;
    if (this.#slow !== undefined) {
      this.#id = slowHookDevices.get(this.#slow.log) ?? 0;
      slowHookDevices.set(this.#slow.log, this.#id + 1);
    }
    if (this.dirtyTracking === "iommu-pinned") ctx.pinner?.pin(16 * 4096, this.#ring);
  }

  protected override _tick(): void {
    this.counter++;
    const iova = (16 + this.position) * 4096;
    const stamp = new Uint8Array(64).fill(this.counter & 0xff);
    new DataView(stamp.buffer).setUint32(0, this.counter, true);
    this.dmaWrite(iova, stamp);
    this.position = (this.position + 1) % this.#ring;
    this.ctx.irq.raise(0);
  }

  protected _stopDevice(): Promise<void> | undefined {
    if (this.#slow !== undefined) return slowHook(this.#slow, "stop", this.#id, () => {});
    return this.#hang === "stop" ? this.#hung() : undefined;
  }
  protected _startDevice(): Promise<void> | undefined {
    if (this.#failStart) throw new MdevError("EIO", "toy device failed to start");
    if (this.#slow !== undefined) return slowHook(this.#slow, "start", this.#id, () => {});
    return this.#hang === "start" ? this.#hung() : undefined;
  }
  protected override _precopyStart(): Uint8Array | Promise<Uint8Array> {
    if (this.#hang === "precopy") return this.#hung().then(() => this.#header());
    return this.#header();
  }
  /** The hung hook's wait: forever, or until what `releaseHang` returns settles (once). */
  #hung(): Promise<void> {
    if (this.#releaseHang === undefined) return never();
    this.#hang = undefined;
    return this.#releaseHang();
  }
  #header(): Uint8Array {
    const h = new Uint8Array(4);
    new DataView(h.buffer).setUint32(0, MAGIC, true);
    return h;
  }
  protected _saveState(opts: { afterPrecopy: boolean }): Uint8Array | Promise<Uint8Array> {
    if (this.#hang === "save") return this.#hung().then(() => this.#saveState(opts));
    return this.#saveState(opts);
  }
  #saveState(opts: { afterPrecopy: boolean }): Uint8Array {
    if (this.#failSave) throw new MdevError("EIO", "toy device failed to save its state");
    const body = new Uint8Array(8);
    const v = new DataView(body.buffer);
    v.setUint32(0, this.counter, true);
    v.setUint32(4, this.position, true);
    if (opts.afterPrecopy) return body;
    const all = new Uint8Array(12);
    all.set(this.#header());
    all.set(body, 4);
    return all;
  }
  protected override _checkResumingPrefix(received: Uint8Array): void {
    if (
      received.length >= 4 &&
      new DataView(received.buffer, received.byteOffset).getUint32(0, true) !== MAGIC
    ) {
      throw new MdevError("EINVAL", "toy device: bad magic");
    }
  }
  protected _loadState(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#slow === undefined) {
      this.#load(bytes);
      return undefined;
    }
    return slowHook(this.#slow, "load", this.#id, () => this.#load(bytes));
  }
  #load(bytes: Uint8Array): void {
    if (bytes.length !== 12)
      throw new MdevError("EINVAL", `toy device: state is ${bytes.length} bytes, expected 12`);
    const v = new DataView(bytes.buffer, bytes.byteOffset);
    this.counter = v.getUint32(4, true);
    this.position = v.getUint32(8, true);
  }
  protected _estimateStateSize(): number {
    return 12;
  }
  protected _compatibilityData(): Uint8Array {
    return Uint8Array.of(1, this.#ring);
  }
  protected _reset(): void {
    this.counter = 0;
    this.position = 0;
  }
}

/** A plugin of DMA toy devices. */
export function dmaToyPlugin(options: DmaToyOptions = {}, name = "dma-toy"): VendorPlugin {
  return {
    name,
    version: "1.0.0",
    engine: ">=0.1.0",
    deviceTypes: [{ name: "toy" }],
    migrationFlags: options.flags ?? MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY,
    dirtyTracking: options.offered ?? [options.dirtyTracking ?? "dma-logging"],
    checkCompatible: (source) =>
      source.compatibility[0] === 1
        ? { compatible: true }
        : { compatible: false, reason: "unknown toy version" },
    create: (ctx) => new DmaToyDriver(ctx, options),
  };
}
