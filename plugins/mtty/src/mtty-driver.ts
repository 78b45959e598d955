/**
 * The mtty migration driver: one virtual serial card with 1, 2 or 4 ports.
 *
 * Read this file as the template for a plugin. {@link AbstractVendorDriver} owns the
 * migration state machine and the data sessions; this class only fills in hooks:
 *
 * - stop/start: a flag that gates every device-originated action (DMA, interrupts,
 *   wire input) and every guest register access;
 * - PRE_COPY: the 24-byte header goes out first so the target can refuse early;
 *   STOP_COPY then sends only the per-port blocks;
 * - RESUMING: the header is checked as soon as it arrives, and the whole image is
 *   decoded into fresh objects before any port is touched (all-or-nothing);
 * - dirty tracking: every DMA write goes through the base class's `dmaWrite`, which
 *   feeds the device's DMA log (the plugin offers only DMA logging, like mlx5).
 */
import {
  AbstractVendorDriver,
  type DeviceContext,
  MdevError,
  MigFlags,
  MigState,
  migStateName,
} from "@mdevkit/core";
import { encodeCompatibility } from "./compatibility.js";
import { buildConfigSpace } from "./config-space.js";
import { portCountOf } from "./device-types.js";
import {
  checkHeader,
  decodeStream,
  encodeHeader,
  encodePorts,
  HEADER_BYTES,
  PORT_BYTES,
  streamBytes,
} from "./migration-format.js";
import { PORT_WINDOW, type PortState, powerOnPortState, UartPort } from "./uart.js";
import { bytesThisTick, wireByte } from "./workload.js";

/**
 * Capability flags. mtty does no peer-to-peer DMA, so P2P costs nothing to offer and
 * lets the VMM use RUNNING_P2P; PRE_COPY carries the header early, as mtty.c does.
 */
export const MTTY_MIGRATION_FLAGS = MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY;

/** The interrupt vector every port shares (INTx, like mtty.c's single line). */
export const MTTY_IRQ_VECTOR = 0;

function checkOptions(options: Readonly<Record<string, unknown>>): void {
  const unknown = Object.keys(options);
  if (unknown.length > 0) {
    throw new MdevError("EINVAL", `mtty takes no device options, got: ${unknown.join(", ")}`);
  }
}

/** Driver of one mtty device; create it through `mttyPlugin.create(ctx)`. */
export class MttyDriver extends AbstractVendorDriver {
  /** Number of serial ports (from the device type). */
  readonly portCount: number;
  readonly #ports: UartPort[];
  /** Host-side wire output per port; not device state, so neither migrated nor compared. */
  readonly #transmitted: number[][];
  /** Bytes the current tick delivered (what {@link tick} reports). */
  #delivered = 0;

  constructor(ctx: DeviceContext) {
    const portCount = portCountOf(ctx.deviceType);
    checkOptions(ctx.options);
    // Exact: the resuming stream refuses (E2BIG) anything longer than a full image.
    super(ctx, { maxStateBytes: streamBytes(portCount), configSpace: buildConfigSpace(portCount) });
    this.portCount = portCount;
    this.#transmitted = Array.from({ length: portCount }, () => []);
    this.#ports = Array.from(
      { length: portCount },
      (_, i) =>
        new UartPort({
          raiseIrq: () => this.#raiseIrq(),
          dmaWrite: (iova, bytes) => this.dmaWrite(iova, bytes),
          transmit: (byte) => this.#transmitted[i]!.push(byte),
        }),
    );
  }

  /** True while the device may act: not stopped by the FSM and not broken. */
  override get running(): boolean {
    return super.running;
  }

  // ---- guest-visible interface ----

  /**
   * A guest read of register `offset` (see `Reg`) in port `port`'s window of BAR0.
   * @throws MdevError EINVAL for a bad port or offset; EBUSY while the device is stopped
   *   (the VMM pauses vCPUs first, so an access then is a harness bug, and serving it
   *   could change state — reading RBR pops the FIFO).
   */
  readRegister(port: number, offset: number): number {
    return this.#port(port, offset).read(offset);
  }

  /**
   * A guest write of `value` to register `offset` of port `port`. UART registers take
   * the low 8 bits; the ring registers take 32.
   * @throws MdevError as {@link readRegister}, and EINVAL when `value` is not a u32.
   */
  writeRegister(port: number, offset: number, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new MdevError(
        "EINVAL",
        `mtty register value ${value} is not a 32-bit unsigned integer`,
      );
    }
    this.#port(port, offset).write(offset, value);
  }

  // ---- workload interface (the simulated far end of the cables) ----

  /**
   * Delivers `bytes` arriving on `port`'s wire. Returns how many were accepted: all of
   * them while running, none while stopped — a stopped UART holds its line, so the far
   * end keeps them (no DMA, no interrupt, no state change).
   */
  receive(port: number, bytes: Uint8Array): number {
    this.#checkPort(port);
    if (!this.running) return 0;
    this.#ports[port]!.receive(bytes);
    return bytes.byteLength;
  }

  /**
   * Advances the built-in workload by `n` ticks: each port receives 1–3 bytes per tick,
   * chosen deterministically from `ctx.seed` and the port's wire cursor. Returns the
   * number of bytes delivered (0 while stopped: the base class gates every tick). The
   * simulated VM calls it with no argument: one tick.
   */
  override tick(n = 1): number {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new MdevError("EINVAL", `tick count ${n} must be a non-negative integer`);
    let delivered = 0;
    for (let t = 0; t < n; t++) {
      this.#delivered = 0;
      super.tick();
      delivered += this.#delivered;
    }
    return delivered;
  }

  protected override _tick(): void {
    this.#ports.forEach((port, i) => {
      const s = port.state;
      const count = bytesThisTick(this.ctx.seed, i, s.wireSeq);
      const bytes = Uint8Array.from({ length: count }, (_, k) =>
        wireByte(this.ctx.seed, i, (s.wireSeq + k) >>> 0),
      );
      port.receive(bytes);
      // The cursor moves only after delivery: if DMA faulted, the bytes are sent again next time.
      s.wireSeq = (s.wireSeq + count) >>> 0;
      this.#delivered += count;
    });
  }

  /** Takes the bytes `port` transmitted (not looped back) since the last call. Host-side only. */
  takeTransmitted(port: number): Uint8Array {
    this.#checkPort(port);
    const out = Uint8Array.from(this.#transmitted[port]!);
    this.#transmitted[port] = [];
    return out;
  }

  /** Deep copies of every port's state, for comparisons and invariant checks. */
  snapshotPorts(): PortState[] {
    return this.#ports.map((p) => ({ ...p.state, fifo: p.state.fifo.slice() }));
  }

  // ---- migration hooks ----

  // Stop and start need no device work: the base class's `running` gates every
  // device-originated action (ticks, DMA, interrupts) and every guest register access.
  protected _stopDevice(): void {}

  protected _startDevice(): void {}

  protected override _precopyStart(): Uint8Array {
    // mtty.c's PRE_COPY data is just the header: the target validates it long before
    // the source stops, and the per-port state (which keeps changing) waits for STOP_COPY.
    return encodeHeader(this.portCount);
  }

  protected _saveState(opts: { afterPrecopy: boolean }): Uint8Array {
    const ports = encodePorts(this.#ports.map((p) => p.state));
    if (opts.afterPrecopy) return ports;
    const out = new Uint8Array(HEADER_BYTES + ports.byteLength);
    out.set(encodeHeader(this.portCount));
    out.set(ports, HEADER_BYTES);
    return out;
  }

  protected _estimateStateSize(): number {
    // Exactly what STOP_COPY would produce from here: in a precopy session the header
    // has already been queued, so only the port blocks remain.
    const state = this.getState();
    const inPrecopy = state === MigState.PRE_COPY || state === MigState.PRE_COPY_P2P;
    return inPrecopy ? this.portCount * PORT_BYTES : streamBytes(this.portCount);
  }

  protected override _checkResumingPrefix(received: Uint8Array): void {
    // Refuse a foreign or mismatched stream as soon as its header is complete,
    // instead of after the whole image crossed the network.
    if (received.byteLength >= HEADER_BYTES) checkHeader(received, this.portCount);
  }

  protected _loadState(bytes: Uint8Array): void {
    // decodeStream validates everything into new objects; only then are ports replaced.
    const states = decodeStream(bytes, this.portCount);
    this.#ports.forEach((port, i) => {
      port.state = states[i]!;
    });
  }

  protected _compatibilityData(): Uint8Array {
    return encodeCompatibility(this.portCount);
  }

  protected _reset(): void {
    // Like mtty.c, config space survives a device reset: the VMM owns and restores it.
    for (const port of this.#ports) port.state = powerOnPortState();
    this.#transmitted.forEach((_, i) => {
      this.#transmitted[i] = [];
    });
  }

  // ---- wiring ----

  #checkPort(port: number): void {
    if (!Number.isInteger(port) || port < 0 || port >= this.portCount) {
      throw new MdevError(
        "EINVAL",
        `mtty port ${port} does not exist (device has ${this.portCount})`,
      );
    }
  }

  #port(port: number, offset: number): UartPort {
    this.#checkPort(port);
    if (!Number.isInteger(offset) || offset < 0 || offset >= PORT_WINDOW) {
      throw new MdevError(
        "EINVAL",
        `mtty register offset ${offset} is outside the ${PORT_WINDOW}-byte port window`,
      );
    }
    if (!this.running) {
      throw new MdevError(
        "EBUSY",
        `mtty register access while the device is ${migStateName(this.getState())}`,
      );
    }
    return this.#ports[port]!;
  }

  #raiseIrq(): void {
    this.#assertRunning("interrupt");
    if (this.ctx.irq.count > MTTY_IRQ_VECTOR) this.ctx.irq.raise(MTTY_IRQ_VECTOR);
  }

  /** Every entry point already checks; this catches a future path that forgets to. */
  #assertRunning(what: string): void {
    if (!this.running) {
      throw new MdevError(
        "EIO",
        `mtty bug: ${what} attempted while the device is ${migStateName(this.getState())}`,
      );
    }
  }
}
