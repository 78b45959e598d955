/**
 * The accelerator's migration driver: the hooks of {@link AbstractVendorDriver} around
 * the device model ({@link AccelDevice}) and the built-in guest driver ({@link AccelGuest}).
 *
 * - stop: stop fetching, then `drain` (complete in-flight jobs, raise their interrupts)
 *   or `checkpoint` (abort and rewind them), then write every cached queue context back
 *   to guest memory — all while DMA is still allowed, so the final dirty sync sees it;
 * - PRE_COPY: the compat record only (hisi: `initial_bytes = QM_MATCH_SIZE`);
 * - STOP_COPY: the state image; RESUMING checks the compat record as soon as it is
 *   complete and validates the whole stream before applying anything;
 * - start: re-signal events written before the stop and not yet reaped;
 * - dirty tracking: `iommu-pinned` pins the guest's DMA window for as long as the device
 *   uses it; `dma-logging` records every write the device makes through `dmaWrite`.
 */
import {
  AbstractVendorDriver,
  type DeviceContext,
  MdevError,
  MigState,
  migStateName,
} from "@mdevkit/core";
import {
  AccelDevice,
  type DoorbellCmd,
  type MailboxCommand,
  type QuiesceResult,
} from "./accel-device.js";
import { compatOf, encodeCompat } from "./compat.js";
import { buildConfigSpace } from "./config-space.js";
import { type AccelDeviceState, type DmaWindow, type QmRegName, QmState } from "./device-state.js";
import { AccelGuest, type DeviceMmio, type GuestStats } from "./guest-driver.js";
import { layoutRegion, type RegionLayout } from "./layout.js";
import {
  type AccelOptions,
  findPersonality,
  type Personality,
  PROFILES,
  type Profile,
  parseAccelOptions,
} from "./profiles.js";
import {
  checkPrefix,
  type DecodeContext,
  decodeStream,
  encodeState,
  MAX_COMPAT_IMAGE,
  notReadyState,
} from "./state-format.js";

/** What a host's copy of the plugin is like (target-side capabilities and policies). */
export interface AccelHostConfig {
  /** Capability mask this host's VFs offer per personality (default: the personality's). */
  readonly algMask?: Partial<Record<Personality["name"], bigint>>;
  /** Queue isolation this host's PF uses per personality (default: the personality's). */
  readonly isoCfg?: Partial<Record<Personality["name"], number>>;
  /** What to do with a v1 stream: recompute the EQ/AEQ bases (default) or refuse it. */
  readonly v1Streams?: "fixup" | "refuse";
  /** Re-signal pending events on start (default true; false only to show lost wake-ups). */
  readonly resignal?: boolean;
}

/** This host's view of personality `p` (capabilities overridden by `host`). */
export function hostPersonality(p: Personality, host: AccelHostConfig): Personality {
  return {
    ...p,
    algMask: host.algMask?.[p.name] ?? p.algMask,
    isoCfg: host.isoCfg?.[p.name] ?? p.isoCfg,
  };
}

/** What the last stop did. */
export interface StopReport extends QuiesceResult {
  /** Jobs in engine slots when the stop began. */
  readonly inFlightBefore: number;
  /** Jobs in engine slots when it returned (always 0). */
  readonly inFlightAfter: number;
}

const PIN_CHUNK = 512;

/** Driver of one accelerator VF; create it through the plugin. */
export class AccelDriver extends AbstractVendorDriver {
  /** The personality, as this host offers it. */
  readonly personality: Personality;
  /** The sizes. */
  readonly profile: Profile;
  /** Parsed device options. */
  readonly options: AccelOptions;
  /** Where the built-in guest driver puts its queues and buffers. */
  readonly layout: RegionLayout;
  /** The device model (public for tests and tools; the guest reaches it through MMIO). */
  readonly device: AccelDevice;
  readonly #guest: AccelGuest;
  readonly #decode: DecodeContext;
  readonly #maxStateImage: number;
  #pinned: DmaWindow | undefined;
  /** Whether this resuming session's compat record arrived and was accepted: judged once. */
  #prefixChecked = false;
  /** What the last stop did with the jobs in flight. */
  lastStop: StopReport | undefined;
  /** The last successful load: section version, and whether v1 bases were fixed up. */
  lastLoad: { version: number; fixedUp: boolean } | undefined;

  constructor(ctx: DeviceContext, host: AccelHostConfig = {}) {
    const base = findPersonality(ctx.deviceType);
    if (base === undefined)
      throw new MdevError("ENODEV", `accel has no device type "${ctx.deviceType}"`);
    const options = parseAccelOptions(ctx.options);
    const personality = hostPersonality(base, host);
    const profile = PROFILES[options.profile];
    const maxStateImage = encodeState(
      { ...notReadyState({ profile }, { eq: false, aeq: false }), qmState: QmState.READY },
      1,
    ).byteLength;
    super(ctx, {
      maxStateBytes: MAX_COMPAT_IMAGE + maxStateImage,
      configSpace: buildConfigSpace(personality),
    });
    this.personality = personality;
    this.profile = profile;
    this.options = options;
    this.#workload = options.workload;
    this.#maxStateImage = maxStateImage;
    this.layout = layoutRegion(options.regionGpa, profile, personality.sqeBytes);
    if (this.layout.base + this.layout.bytes > ctx.guestMemory.size) {
      throw new MdevError(
        "EINVAL",
        `accel ${profile.name} profile needs guest RAM up to 0x${(this.layout.base + this.layout.bytes).toString(16)}, the VM has 0x${ctx.guestMemory.size.toString(16)}`,
      );
    }
    this.#decode = {
      personality,
      profile,
      v1Streams: host.v1Streams ?? "fixup",
      guestBytes: ctx.guestMemory.size,
    };
    this.device = new AccelDevice(
      {
        personality,
        profile,
        guestBytes: ctx.guestMemory.size,
        resignal: host.resignal ?? true,
      },
      {
        read: (gpa, n) => this.dmaRead(gpa, n),
        write: (gpa, data) => this.dmaWrite(gpa, data),
        raise: (v) => this.#raise(v),
      },
    );
    const mmio: DeviceMmio = {
      vfReady: () => this.device.qmState === QmState.READY,
      setWindow: (b, n) => this.#setWindow(b, n),
      writeReg: (name: QmRegName, v: number) => this.device.writeReg(name, v),
      mailbox: (m: MailboxCommand) => this.device.mailbox(m),
      doorbell: (qn: number, cmd: DoorbellCmd, i: number) => this.device.doorbell(qn, cmd, i),
    };
    this.#guest = new AccelGuest(
      {
        // The guest's CPU reads RAM directly; its writes go through the device's DMA path
        // so that whichever tracking the device uses also covers them (see README).
        read: (gpa, n) => this.ctx.dma.read(gpa, n),
        write: (gpa, data) => {
          this.dmaWrite(gpa, data);
        },
      },
      mmio,
      this.layout,
      personality,
      profile,
      ctx.seed,
    );
  }

  /** True while the device may act. */
  override get running(): boolean {
    return super.running;
  }

  // ---- the guest (what runs inside the VM) ----

  #workload: boolean;

  /**
   * Turns the built-in workload on or off at run time (a host-side knob, not device
   * state): tests stop submissions to let every outstanding job finish.
   */
  setWorkload(enabled: boolean): void {
    this.#workload = enabled;
  }

  /** One guest tick of the built-in workload. @throws MdevError EBUSY while stopped. */
  guestStep(): void {
    this.#requireGuest("guest step");
    this.#guest.step();
  }

  /** Guest: submit up to `n` jobs on pair `q`. @throws MdevError EBUSY while stopped. */
  guestSubmit(q: number, n: number): number {
    this.#requireGuest("guest submit");
    if (!this.#guest.initialized || this.device.qmState !== QmState.READY) this.#guest.init();
    if (!Number.isInteger(q) || q < 0 || q >= this.profile.qpNum)
      throw new MdevError("EINVAL", `accel: queue pair ${q} does not exist`);
    return this.#guest.submit(q, n);
  }

  /** Guest: run the interrupt bottom half. @throws MdevError EBUSY while stopped. */
  guestService(): void {
    this.#requireGuest("guest service");
    this.#guest.service();
  }

  /** The guest driver's counters, read from guest RAM (no device action). */
  guestStats(): GuestStats {
    return this.#guest.stats();
  }

  #requireGuest(what: string): void {
    if (!this.running)
      throw new MdevError(
        "EBUSY",
        `accel: ${what} while the device is ${migStateName(this.getState())} (vCPUs are paused)`,
      );
  }

  // ---- wiring ----

  #raise(vector: number): void {
    if (vector < this.ctx.irq.count) this.ctx.irq.raise(vector);
    this.#guest.onInterrupt(vector);
  }

  #setWindow(base: number, bytes: number): void {
    this.device.setWindow(base, bytes);
    this.#repin({ base, bytes });
  }

  /** Pins `next` (then drops the old pins), under IOMMU dirty tracking. */
  #repin(next: DmaWindow | undefined): void {
    const pinner = this.dirtyTracking === "iommu-pinned" ? this.ctx.pinner : undefined;
    if (pinner === undefined) return;
    const each = (w: DmaWindow, f: (iova: number, n: number) => void) => {
      for (let p = 0; p < w.bytes / 4096; p += PIN_CHUNK)
        f(w.base + p * 4096, Math.min(PIN_CHUNK, w.bytes / 4096 - p));
    };
    if (next !== undefined && next.bytes > 0) each(next, (i, n) => pinner.pin(i, n));
    if (this.#pinned !== undefined) each(this.#pinned, (i, n) => pinner.unpin(i, n));
    this.#pinned = next !== undefined && next.bytes > 0 ? next : undefined;
  }

  /** Pages this device holds pinned. */
  get pinnedWindow(): DmaWindow | undefined {
    return this.#pinned;
  }

  // ---- migration hooks ----

  protected override _tick(): void {
    this.device.tick();
    if (this.#workload) this.#guest.step();
  }

  /**
   * Simulates a PF RAS error (hisi `QM_ABNORMAL_INT_STATUS` set): the next stop cannot
   * confirm the VF is quiet, fails, and leaves the device in ERROR until a reset.
   */
  injectRasError(): void {
    this.#rasError = true;
  }

  #rasError = false;

  protected _stopDevice(): void {
    if (this.#rasError) {
      // hisi_acc_vf_stop_device: the interrupt state never clears, so the VF's queues may
      // still be moving; nothing the driver saves could be trusted.
      throw new MdevError("EIO", "accel: PF RAS error pending, the VF cannot be quiesced", {
        enterErrorState: true,
      });
    }
    const before = this.device.inFlight;
    const r = this.device.quiesce(this.options.stopPolicy);
    this.lastStop = { ...r, inFlightBefore: before, inFlightAfter: this.device.inFlight };
  }

  protected _startDevice(): void {
    this.device.start();
  }

  #compatImage(): Uint8Array {
    return encodeCompat(compatOf(this.personality, this.profile, this.options.streamVersion));
  }

  protected override _precopyStart(): Uint8Array {
    // hisi: PRE_COPY carries only the match block, so the target judges it early.
    return this.#compatImage();
  }

  protected _saveState(opts: { afterPrecopy: boolean }): Uint8Array {
    const state = encodeState(this.device.snapshot(), this.options.streamVersion);
    if (opts.afterPrecopy) return state;
    const compat = this.#compatImage();
    const out = new Uint8Array(compat.byteLength + state.byteLength);
    out.set(compat);
    out.set(state, compat.byteLength);
    return out;
  }

  protected _estimateStateSize(): number {
    const s = this.getState();
    const inPrecopy = s === MigState.PRE_COPY || s === MigState.PRE_COPY_P2P;
    return (inPrecopy ? 0 : this.#compatImage().byteLength) + this.#maxStateImage;
  }

  protected override _beginResuming(): void {
    this.#prefixChecked = false;
  }

  protected override _checkResumingPrefix(received: Uint8Array): void {
    if (!this.#prefixChecked) this.#prefixChecked = checkPrefix(received, this.#decode);
  }

  protected _loadState(bytes: Uint8Array): void {
    const decoded = decodeStream(bytes, this.#decode);
    const s: AccelDeviceState = decoded.state;
    const before = this.#pinned;
    this.#repin(s.qmState === QmState.READY ? s.window : undefined);
    try {
      this.device.restore(s);
    } catch (err) {
      this.#repin(before);
      throw err;
    }
    this.lastLoad = { version: decoded.version, fixedUp: decoded.fixedUp };
  }

  protected _compatibilityData(): Uint8Array {
    return this.#compatImage();
  }

  protected _reset(): void {
    this.#rasError = false;
    this.device.reset();
    this.#repin(undefined);
    this.lastStop = undefined;
  }
}
