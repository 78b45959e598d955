/**
 * The sriov-nic migration driver: one 82576-like VF, migrated the way mlx5_vfio_pci
 * migrates a ConnectX VF.
 *
 * - Two-phase quiesce: RUNNING → RUNNING_P2P suspends the initiator (no TX fetch; a
 *   half-gathered packet is dropped or rewound by policy), → STOP suspends the responder
 *   (frames already handed to the VF are written back first; later arrivals are the
 *   switch's blackout drops). Resume is the mirror image.
 * - PRE_COPY: the compat image and a config image (filters, RSS) go first; a new config
 *   image follows whenever they change; STOP_COPY sends the rest.
 * - Dirty tracking: device DMA logging through the base class's DMA log (every
 *   `dmaWrite` is logged), with a configurable range limit and an injectable tracker error.
 * - The target verifies its PF was provisioned like the source's, restores everything in
 *   one step after validating the whole stream, hands a pending mailbox request to its PF,
 *   and announces the VF's MAC from its port once running.
 */
import {
  AbstractVendorDriver,
  type DeviceContext,
  MdevError,
  type MigFlagSet,
  MigFlags,
  MigState,
  migStateName,
} from "@mdevkit/core";
import { compatInfoFor, incompatibility } from "./compatibility.js";
import { buildConfigSpace } from "./config-space.js";
import { formatMac, parseMac } from "./frame.js";
import {
  decodeGuestControl,
  GuestDriver,
  GuestLayout,
  type GuestTrace,
  type GuestView,
} from "./guest-driver.js";
import {
  decodeCompatImage,
  decodeStream,
  encodeCompatImage,
  encodeConfigImage,
  encodeFinalImage,
  imageLength,
  MAX_IMAGE_BYTES,
} from "./migration-format.js";
import { NicDevice, type NicTrace, type RxOutcome } from "./nic-device.js";
import { cloneState, type NicState, powerOnState } from "./nic-state.js";
import { defaultMac, type NicOptions, parseNicOptions } from "./options.js";
import { checkPfPolicy, type PfCapabilities, type PfPolicy } from "./pf-policy.js";
import { type NicProfile, PROFILES } from "./profile.js";
import { MAX_MC_ENTRIES } from "./regs.js";
import { Announcer, rarpFrame } from "./wire/announce.js";
import type { SwitchPort } from "./wire/simulated-switch.js";
import { TrafficGenerator } from "./wire/traffic-generator.js";

/** Everything the plugin offers: STOP_COPY with P2P quiesce and PRE_COPY, as mlx5. */
export const SRIOV_NIC_MIGRATION_FLAGS: MigFlagSet =
  MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY;

/** Largest resuming stream: a compat image, a handful of config images and a final image fit easily. */
export const MAX_STREAM_BYTES = 16 * MAX_IMAGE_BYTES;

/** Counters of the standalone wire (used while no switch port is connected); host-side. */
export interface StandaloneWire {
  /** Frames sent toward the VF. */
  sent: number;
  /** Frames the VF transmitted (announces included). */
  transmitted: number;
  readonly outcomes: Record<RxOutcome, number>;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

/** Driver of one VF; create it through the plugin (`sriovNicPlugin.create(ctx)`). */
export class SriovNicDriver extends AbstractVendorDriver {
  /** Validated device options. */
  readonly options: NicOptions;
  readonly profile: NicProfile;
  /** The PF policy this host was provisioned with for the VF. */
  readonly pf: PfPolicy;
  /** Where the guest driver model keeps its rings, buffers and control block. */
  readonly layout: GuestLayout;
  readonly #caps: PfCapabilities;
  readonly #device: NicDevice;
  readonly #guest: GuestDriver | undefined;
  readonly #standaloneGen: TrafficGenerator;
  readonly #rxRate: number;
  #port: SwitchPort | undefined;
  #announcer: Announcer | undefined;
  #migratedIn = false;
  #dirtyLogFault: boolean;
  /** The config image last queued in the precopy session (what the target will have). */
  #lastConfig: Uint8Array | undefined;
  #prefixChecked = false;
  /** Counters of the standalone wire. */
  readonly standalone: StandaloneWire = {
    sent: 0,
    transmitted: 0,
    outcomes: { delivered: 0, "no-desc": 0, filtered: 0, fault: 0 },
  };

  constructor(ctx: DeviceContext, caps: PfCapabilities) {
    const options = parseNicOptions(ctx.options);
    super(ctx, {
      maxStateBytes: MAX_STREAM_BYTES,
      configSpace: buildConfigSpace(),
      ...(options.migration === "stop-copy" ? { migrationFlags: MigFlags.STOP_COPY } : {}),
      ...(options.maxDmaLogRanges !== undefined
        ? { maxDmaLogRanges: options.maxDmaLogRanges }
        : {}),
    });
    this.options = options;
    this.profile = PROFILES[options.profile];
    this.#caps = caps;
    const mac = options.mac !== undefined ? parseMac(options.mac)! : defaultMac(ctx.seed);
    this.pf = {
      adminMac: mac,
      portVlan: options.portVlan,
      spoofChk: options.spoofChk,
      trust: options.trust,
    };
    checkPfPolicy(this.pf);
    if (options.trust && !caps.allowTrust)
      throw new MdevError("EPERM", "sriov-nic: this host's PF does not allow trusted VFs");
    const regionSize = GuestLayout.sizeFor(this.profile);
    const base = options.guestBase ?? Math.floor((ctx.guestMemory.size - regionSize) / 4096) * 4096;
    if (options.guest && (base < 0 || base + regionSize > ctx.guestMemory.size)) {
      throw new MdevError(
        "EINVAL",
        `sriov-nic: the guest driver's ${regionSize}-byte region at 0x${base.toString(16)} does not fit ${ctx.guestMemory.size} bytes of guest RAM`,
      );
    }
    this.layout = new GuestLayout(Math.max(0, base), this.profile);
    this.#dirtyLogFault = options.dirtyLogFault;
    this.#rxRate = options.rxRate ?? this.profile.rxRate;
    this.#standaloneGen = new TrafficGenerator({ seed: ctx.seed, vfMac: mac });
    this.#device = new NicDevice(
      powerOnState(mac),
      {
        dmaRead: (iova, length) => this.dmaRead(iova, length),
        dmaWrite: (iova, data) => this.dmaWrite(iova, data),
        raise: (vector) => {
          if (vector < this.ctx.irq.count) this.ctx.irq.raise(vector);
        },
      },
      { seed: ctx.seed, partialPolicy: options.txPartialPolicy, pf: this.pf, caps },
    );
    this.#device.wire = { transmit: (bytes) => this.#transmit(bytes) };
    this.#guest = options.guest
      ? new GuestDriver(
          {
            read: (gpa, length) => this.dmaRead(gpa, length),
            write: (gpa, data) => this.dmaWrite(gpa, data),
            readReg: (offset) => this.#device.readReg(offset),
            writeReg: (offset, value) => this.#device.writeReg(offset, value),
          },
          {
            layout: this.layout,
            profile: this.profile,
            seed: ctx.seed,
            ...(options.txRate !== undefined ? { txRate: options.txRate } : {}),
          },
        )
      : undefined;
  }

  /** True while the device may act (between start and stop, not broken). */
  override get running(): boolean {
    return super.running;
  }

  /** Whether the VF's responder takes RX now: from start until the STOP arc. */
  get acceptingRx(): boolean {
    return this.running;
  }

  /** Whether the VF may initiate DMA (TX fetch): false from RUNNING_P2P on. */
  get initiating(): boolean {
    return this.running && this.#device.initiating;
  }

  // ---- guest-visible interface ----

  /** A guest MMIO read of BAR0. @throws MdevError EBUSY while stopped, EINVAL off the register map. */
  readRegister(offset: number): number {
    this.#requireRunning("register read");
    return this.#device.readReg(offset);
  }

  /** A guest MMIO write of BAR0. @throws MdevError EBUSY while stopped, EINVAL off the map or not a u32. */
  writeRegister(offset: number, value: number): void {
    this.#requireRunning("register write");
    this.#device.writeReg(offset, value);
  }

  #requireRunning(what: string): void {
    if (!this.running)
      throw new MdevError(
        "EBUSY",
        `sriov-nic: ${what} while the device is ${migStateName(this.getState())}`,
      );
  }

  // ---- host-side wiring (tests, benches) ----

  /**
   * Plugs the VF into a switch port (or back into its standalone wire with `undefined`).
   * From then on RX comes from the port and TX goes to it.
   */
  connect(port: SwitchPort | undefined): void {
    this.#port?.connect(undefined);
    this.#port = port;
    port?.connect({ accepting: () => this.acceptingRx });
  }

  /** Observer of device events (host-side tracing). */
  set deviceTrace(trace: NicTrace) {
    this.#device.trace = trace;
  }

  /** Observer of the guest driver model (host-side tracing). */
  set guestTrace(trace: GuestTrace) {
    if (this.#guest !== undefined) this.#guest.trace = trace;
  }

  /** Turns the injected DMA-log tracker error on or off (mlx5's `is_err`). */
  setDirtyLogFault(on: boolean): void {
    this.#dirtyLogFault = on;
  }

  /**
   * The PF's link-state override (`ip link set PF vf N state enable|disable`): a fault
   * test flaps the link with it. @throws MdevError EBUSY while the VF is stopped (a stopped
   * device must not change).
   */
  setLinkState(up: boolean): void {
    this.#requireRunning("link change");
    this.#device.setLink(up);
  }

  /** RARP rounds this VF's PF has announced since the VF arrived here. */
  get announcesSent(): number {
    return this.#announcer?.sent ?? 0;
  }

  /** A deep copy of the VF's state. */
  snapshot(): NicState {
    return cloneState(this.#device.state);
  }

  /** The guest driver's control block as it is in guest memory now (host-side inspection). */
  guestView(): GuestView {
    return decodeGuestControl(this.ctx.dma.read(this.layout.control, 256));
  }

  /** The VF's MAC as text. */
  get macText(): string {
    return formatMac(this.#device.state.filters.mac);
  }

  /** Whether the VF's filters accept a frame like those of `generator`'s flow `flow`. */
  accepts(frame: Parameters<NicDevice["accepts"]>[0]): boolean {
    return this.#device.accepts(frame);
  }

  /** The RX queue and RSS hash the VF would pick for a frame's bytes. */
  classify(bytes: Uint8Array): { queue: 0 | 1; hash: number } {
    return this.#device.classify(bytes);
  }

  // ---- the device's own work ----

  protected override _tick(): void {
    const state = this.getState();
    // The guest runs only while its vCPUs do: RUNNING and PRE_COPY (the VMM pauses them before P2P).
    if (this.#guest !== undefined && (state === MigState.RUNNING || state === MigState.PRE_COPY)) {
      this.#guest.tick();
    }
    this.#receiveFromWire();
    this.#device.tick();
    if (this.#announcer?.tick() === true) this.#transmit(rarpFrame(this.pf.adminMac));
  }

  #receiveFromWire(): void {
    if (this.#port !== undefined) {
      for (const frame of this.#port.take()) {
        const outcome = this.#device.receive(frame);
        this.#port.record(outcome === "no-desc" ? "noDesc" : outcome);
      }
      return;
    }
    // Standalone wire: the generator keyed by the device clock, so a migrated VF continues the sequence.
    const first = this.#device.state.now * this.#rxRate;
    for (let k = 0; k < this.#rxRate; k++) {
      this.standalone.sent++;
      this.standalone.outcomes[this.#device.receive(this.#standaloneGen.packet(first + k))]++;
    }
  }

  #transmit(bytes: Uint8Array): void {
    if (this.#port !== undefined) this.#port.transmit(bytes);
    else this.standalone.transmitted++;
  }

  // ---- migration hooks ----

  protected override _quiesceP2P(): void {
    this.#device.suspendInitiator();
  }

  protected override _resumeP2P(): void {
    this.#device.resumeInitiator();
  }

  protected _stopDevice(): void {
    // Responder suspend: frames the port already handed over complete (data, write-back,
    // head) before the arc returns; from here the port drops arrivals as blackout.
    if (this.#port !== undefined) this.#receiveFromWire();
  }

  protected _startDevice(): void {
    if (this.#migratedIn) {
      this.#migratedIn = false;
      // The target's PF serves a request the source's PF never answered, exactly once,
      // and announces the VF's MAC from this port.
      this.#device.adoptMailbox();
      this.#announcer = new Announcer(this.options.announce);
    }
  }

  protected override _precopyStart(): Uint8Array {
    this.#lastConfig = encodeConfigImage(this.#device.state);
    return concat([this.#compatImage(), this.#lastConfig]);
  }

  protected override _precopyCollect(): Uint8Array | undefined {
    const config = encodeConfigImage(this.#device.state);
    if (sameBytes(this.#lastConfig, config)) return undefined;
    this.#lastConfig = config;
    return config;
  }

  protected override _precopyDirtyEstimate(): number {
    const config = encodeConfigImage(this.#device.state);
    return sameBytes(this.#lastConfig, config) ? 0 : config.byteLength;
  }

  protected override _precopyEnd(): void {
    this.#lastConfig = undefined;
  }

  protected _saveState(opts: { afterPrecopy: boolean }): Uint8Array {
    const state = this.#device.state;
    const configSent = opts.afterPrecopy && sameBytes(this.#lastConfig, encodeConfigImage(state));
    const final = encodeFinalImage(state, this.pf, !configSent);
    return opts.afterPrecopy ? final : concat([this.#compatImage(), final]);
  }

  protected _estimateStateSize(): number {
    const state = this.#device.state;
    // Room for the multicast list to grow to its limit before STOP_COPY.
    const slack = (MAX_MC_ENTRIES - state.filters.mcHashes.length) * 2;
    const final = encodeFinalImage(state, this.pf, true, true).byteLength + slack;
    const st = this.getState();
    const inPrecopy = st === MigState.PRE_COPY || st === MigState.PRE_COPY_P2P;
    return inPrecopy ? final : this.#compatImage().byteLength + final;
  }

  protected override _beginResuming(): void {
    this.#prefixChecked = false;
  }

  protected override _checkResumingPrefix(received: Uint8Array): void {
    if (this.#prefixChecked) return;
    const len = imageLength(received);
    if (len === undefined || received.byteLength < len) return;
    this.#checkCompat(received.subarray(0, len));
    this.#prefixChecked = true;
  }

  #checkCompat(image: Uint8Array): void {
    const { info, pf } = decodeCompatImage(image);
    const why = incompatibility(info, pf?.trust ?? false, this.#caps);
    if (why !== undefined) throw new MdevError("EINVAL", `sriov-nic stream: ${why}`);
    if (pf !== undefined) this.#checkProvisioned(pf);
  }

  /** The target's PF must have been provisioned exactly like the source's. */
  #checkProvisioned(pf: PfPolicy): void {
    const mine = this.pf;
    if (
      pf.adminMac !== mine.adminMac ||
      pf.portVlan !== mine.portVlan ||
      pf.spoofChk !== mine.spoofChk ||
      pf.trust !== mine.trust
    ) {
      throw new MdevError(
        "EINVAL",
        `sriov-nic stream: source PF policy {mac ${formatMac(pf.adminMac)}, vlan ${pf.portVlan}, spoofchk ${pf.spoofChk}, trust ${pf.trust}} is not what this PF was provisioned with {mac ${formatMac(mine.adminMac)}, vlan ${mine.portVlan}, spoofchk ${mine.spoofChk}, trust ${mine.trust}}`,
      );
    }
  }

  protected _loadState(bytes: Uint8Array): void {
    // Everything is decoded and checked into a fresh state before the device is touched.
    const decoded = decodeStream(bytes);
    const why = incompatibility(decoded.compat, decoded.pf?.trust ?? false, this.#caps);
    if (why !== undefined) throw new MdevError("EINVAL", `sriov-nic stream: ${why}`);
    if (decoded.pf !== undefined) this.#checkProvisioned(decoded.pf);
    if (!this.pf.trust && decoded.state.filters.mac !== this.pf.adminMac) {
      throw new MdevError(
        "EINVAL",
        `sriov-nic stream: the VF's MAC ${formatMac(decoded.state.filters.mac)} is not the untrusted VF's admin MAC`,
      );
    }
    this.#device.state = decoded.state;
    this.#device.resetHostSide();
    // Loaded into a stopped device: both initiator and responder stay suspended until started.
    this.#device.suspendInitiator();
    this.#migratedIn = true;
  }

  protected _compatibilityData(): Uint8Array {
    return this.#compatImage();
  }

  #compatImage(): Uint8Array {
    return encodeCompatImage(compatInfoFor(this.#caps), this.pf);
  }

  protected _reset(): void {
    // Config space survives, as for mtty: the VMM owns and restores it.
    this.#device.state = powerOnState(this.pf.adminMac);
    this.#device.resetHostSide();
    this.#device.resumeInitiator();
    this.#announcer = undefined;
    this.#migratedIn = false;
    this.#lastConfig = undefined;
    this.#prefixChecked = false;
  }

  protected override _logReadAndClear(
    iova: number,
    length: number,
    pageSize: number,
    bitmap: BigUint64Array,
  ): Promise<void> | void {
    // An injected tracker error: the uAPI says userspace must then treat all memory as dirty.
    if (this.#dirtyLogFault)
      throw new MdevError("EIO", "sriov-nic: DMA-log tracker error (report refused)");
    return super._logReadAndClear(iova, length, pageSize, bitmap);
  }
}
