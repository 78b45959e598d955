import {
  AbstractVendorDriver,
  type DeviceContext,
  type DirtyTrackingMethod,
  type DmaLogRange,
  MdevError,
  MigFlags,
} from "../../src/index.js";

/** A device context with inert wiring, for contract tests that never DMA. */
export function inertContext(overrides: Partial<DeviceContext> = {}): DeviceContext {
  return {
    slot: "00:04.0",
    deviceType: "toy",
    migrationFlags: MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY,
    dirtyTracking: "dma-logging",
    guestMemory: { size: 64 * 4096, pages: 64, pageSize: 4096 },
    options: {},
    dma: {
      read: (_iova, length) => new Uint8Array(length),
      write: () => {},
    },
    irq: { count: 1, raise: () => {} },
    clock: { nowNs: () => process.hrtime.bigint() },
    seed: 1,
    ...overrides,
  };
}

/**
 * A tiny device for AbstractVendorDriver tests: a counter register whose state is
 * "TOY1" + u32 counter. PRE_COPY sends the 4-byte magic first, so bad magic is refused
 * as soon as it arrives. Hooks record their calls and can be told to fail.
 */
export class ToyDriver extends AbstractVendorDriver {
  counter = 0;
  readonly calls: string[] = [];
  failHook: string | undefined;
  failBreaksDevice = false;
  loggedRanges: readonly DmaLogRange[] = [];

  constructor(
    flags: number = MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY,
    dirtyTracking: DirtyTrackingMethod = "dma-logging",
  ) {
    super(inertContext({ migrationFlags: flags, dirtyTracking }), { maxStateBytes: 64 });
  }

  /** Whether the base class considers the device running (exposed for assertions). */
  override get running(): boolean {
    return super.running;
  }

  #hook(name: string): void {
    this.calls.push(name);
    if (this.failHook === name) {
      if (this.failBreaksDevice)
        throw new MdevError("EIO", `${name} broke the device`, { enterErrorState: true });
      throw new Error(`${name} failed`);
    }
  }

  /** The device's own work: only a running device changes (the base class gates it). */
  protected override _tick(): void {
    this.counter++;
  }

  protected _stopDevice(): void {
    this.#hook("stop");
  }
  protected _startDevice(): void {
    this.#hook("start");
  }
  protected override _quiesceP2P(): void {
    this.#hook("quiesceP2P");
  }
  protected override _resumeP2P(): void {
    this.#hook("resumeP2P");
  }
  protected override _precopyStart(): Uint8Array {
    this.#hook("precopyStart");
    return new TextEncoder().encode("TOY1");
  }
  protected _saveState(opts: { afterPrecopy: boolean }): Uint8Array {
    this.#hook(`save(${opts.afterPrecopy})`);
    const body = new Uint8Array(4);
    new DataView(body.buffer).setUint32(0, this.counter, true);
    if (opts.afterPrecopy) return body;
    const all = new Uint8Array(8);
    all.set(new TextEncoder().encode("TOY1"));
    all.set(body, 4);
    return all;
  }
  protected override _checkResumingPrefix(received: Uint8Array): void {
    if (received.length >= 4 && new TextDecoder().decode(received.subarray(0, 4)) !== "TOY1") {
      throw new MdevError("EINVAL", "bad magic");
    }
  }
  protected _loadState(bytes: Uint8Array): void {
    this.#hook("load");
    if (bytes.length !== 8)
      throw new MdevError("EINVAL", `state is ${bytes.length} bytes, expected 8`);
    this.counter = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
  }
  protected _estimateStateSize(): number {
    return 8;
  }
  protected _compatibilityData(): Uint8Array {
    return Uint8Array.of(1);
  }
  protected _reset(): void {
    this.#hook("reset");
    this.counter = 0;
  }
  protected override _logStart(ranges: readonly DmaLogRange[], pageSizeHint: number): number {
    this.loggedRanges = ranges;
    return Math.max(4096, pageSizeHint);
  }
  protected override _logReadAndClear(): void {}
}
