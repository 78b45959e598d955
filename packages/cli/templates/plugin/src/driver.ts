/**
 * The migration driver of one device. {@link AbstractVendorDriver} owns the migration
 * state machine and the data sessions and checks every request against the contract;
 * this class fills in the hooks:
 *
 * - stop/start: nothing to do — the base class's `running` gates every tick and DMA,
 *   and this class checks it on every guest register access;
 * - PRE_COPY: the identity stream goes out first so the target can refuse early; STOP_COPY
 *   then sends only the state stream (see `state-format.ts`);
 * - RESUMING: the identity is checked as soon as it is complete, and the whole image is
 *   decoded into a new object before anything is applied (all or nothing);
 * - dirty tracking: every DMA write goes through the base class's `dmaWrite`, which feeds
 *   the device's DMA log.
 */
import {
  AbstractVendorDriver,
  type DeviceContext,
  MdevError,
  MigState,
  migStateName,
} from "@mdevkit/core";
import { checkDeviceType } from "./capabilities.js";
import { encodeCompatibility } from "./compatibility.js";
import {
  type DeviceState,
  IRQ_VECTOR,
  PCI_DEVICE_ID,
  PCI_VENDOR_ID,
  powerOnState,
  readRegister,
  step,
  writeRegister,
} from "./device.js";
import { atPowerOn, bringUp } from "./guest.js";
import {
  checkIdentity,
  decodeState,
  encodeIdentity,
  encodeState,
  identityBytes,
  STATE_BYTES,
  splitImage,
} from "./state-format.js";

/** Driver of one device; create it through the plugin's `create(ctx)`. */
export class __PascalName__Driver extends AbstractVendorDriver {
  readonly #deviceType: string;
  #state: DeviceState = powerOnState();

  constructor(ctx: DeviceContext) {
    checkDeviceType(ctx.deviceType);
    const unknown = Object.keys(ctx.options);
    if (unknown.length > 0) {
      throw new MdevError("EINVAL", `device takes no options, got: ${unknown.join(", ")}`);
    }
    // Flags and dirty tracking come from the manifest through ctx. Exact size: the resuming
    // stream refuses (E2BIG) anything longer than a whole image.
    super(ctx, { maxStateBytes: identityBytes(ctx.deviceType) + STATE_BYTES });
    this.#deviceType = ctx.deviceType;
    const ids = new DataView(this.configSpace.buffer);
    ids.setUint16(0x00, PCI_VENDOR_ID, true);
    ids.setUint16(0x02, PCI_DEVICE_ID, true);
    this.configSpace[0x0b] = 0xff; // class: device does not fit a defined class
  }

  /** True while the device may act: not stopped by the FSM and not broken. */
  override get running(): boolean {
    return super.running;
  }

  /** A copy of the migrated state, for tests and `describeState`. */
  snapshot(): DeviceState {
    return { ...this.#state };
  }

  // ---- guest-visible interface ----

  /**
   * A guest read of register `offset` (see `Reg`).
   * @throws MdevError EINVAL for a bad offset; EBUSY while the device is stopped (the
   *   VMM pauses vCPUs first, so an access then is a harness bug).
   */
  readRegister(offset: number): number {
    return readRegister(this.#guest(), offset);
  }

  /**
   * A guest write of the u32 `value` to register `offset`.
   * @throws MdevError as {@link readRegister}, and EINVAL when `value` is not a u32.
   */
  writeRegister(offset: number, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
      throw new MdevError("EINVAL", `register value ${value} is not a 32-bit unsigned integer`);
    }
    writeRegister(this.#guest(), offset, value);
  }

  /**
   * One step of the device's own work: DMA the next record into the guest's ring. The
   * base class's `tick()` calls it only while the device runs. A device at power-on is
   * first brought up as its guest driver would (see `guest.ts`): a VM config has no guest.
   */
  protected override _tick(): void {
    if (atPowerOn(this.#state)) bringUp(this);
    step(this.#state, this.ctx.seed, {
      dmaWrite: (iova, bytes) => this.dmaWrite(iova, bytes),
      raiseIrq: () => {
        if (this.ctx.irq.count > IRQ_VECTOR) this.ctx.irq.raise(IRQ_VECTOR);
      },
    });
  }

  // ---- migration hooks ----

  protected _stopDevice(): void {}

  protected _startDevice(): void {}

  protected override _precopyStart(): Uint8Array {
    // The identity goes first so the target can refuse long before the source stops; the
    // registers, which keep changing, wait for STOP_COPY.
    return encodeIdentity(this.#deviceType);
  }

  protected _saveState(opts: { afterPrecopy: boolean }): Uint8Array {
    const state = encodeState(this.#state);
    if (opts.afterPrecopy) return state;
    const identity = encodeIdentity(this.#deviceType);
    const out = new Uint8Array(identity.byteLength + state.byteLength);
    out.set(identity);
    out.set(state, identity.byteLength);
    return out;
  }

  protected _estimateStateSize(): number {
    // Exactly what STOP_COPY would produce from here: in a precopy session the identity
    // has already been queued.
    const s = this.getState();
    const inPrecopy = s === MigState.PRE_COPY || s === MigState.PRE_COPY_P2P;
    return inPrecopy ? STATE_BYTES : identityBytes(this.#deviceType) + STATE_BYTES;
  }

  protected override _checkResumingPrefix(received: Uint8Array): void {
    // Refuse a foreign or mismatched stream as soon as its identity is complete.
    const n = identityBytes(this.#deviceType);
    if (received.byteLength >= n) checkIdentity(received.subarray(0, n), this.#deviceType);
  }

  protected _loadState(bytes: Uint8Array): void {
    const { identity, state } = splitImage(bytes, this.#deviceType);
    checkIdentity(identity, this.#deviceType);
    // decodeState validates everything into a new object; only then is it applied.
    this.#state = decodeState(state);
  }

  protected _compatibilityData(): Uint8Array {
    return encodeCompatibility(this.#deviceType);
  }

  protected _reset(): void {
    // Config space survives a device reset: the VMM owns and restores it.
    this.#state = powerOnState();
  }

  // ---- wiring ----

  #guest(): DeviceState {
    if (!this.running) {
      throw new MdevError(
        "EBUSY",
        `register access while the device is ${migStateName(this.getState())}`,
      );
    }
    return this.#state;
  }
}
