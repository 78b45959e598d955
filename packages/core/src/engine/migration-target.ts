import { EventEmitter } from "node:events";
import type { MigrationDataStream } from "../contract/migration-data-stream.js";
import { MdevError } from "../errors/mdev-error.js";
import { driveTransition } from "../fsm/drive-transition.js";
import { MigFlags } from "../fsm/mig-flags.js";
import { MigState } from "../fsm/mig-state.js";
import type { MdevHost } from "../host.js";
import type { GuestMemory } from "../memory/guest-memory.js";
import { PAGE_SIZE } from "../memory/page.js";
import { isDataPage } from "../stream/ram-run.js";
import type { HandshakeBody, StreamRecord } from "../stream/records.js";
import { StreamDecoder } from "../stream/stream-decoder.js";
import { digestsEqual, sha256 } from "../stream/stream-digest.js";
import type { TargetChannel } from "../transport/channel.js";
import { SimulatedVm } from "../vm/simulated-vm.js";
import { parseVmConfig } from "../vm/vm-config.js";
import { PageDigestTable } from "./page-digest-table.js";
import { ramSha256 } from "./ram-sha256.js";

/** Options of a {@link MigrationTarget}. */
export interface MigrationTargetOptions {
  /** How long to wait for GO after LOADED before giving up (the VM then never runs), ms. */
  readonly goTimeoutMs?: number;
  /**
   * Hash the whole of guest RAM (SHA-256) and report it — for tests and `--verify-ram`.
   * The guest is held after RESUMED until the hash is taken, so it starts later than the
   * source's measured downtime says.
   */
  readonly verifyRam?: boolean;
  /** Start the VM's vCPUs after the handover (default true). */
  readonly startVcpus?: boolean;
  /**
   * Prefaulted guest RAM prepared before the migration; used when the incoming VM's RAM
   * size matches, so no page of the transfer pays a first-touch fault.
   */
  readonly preallocated?: GuestMemory;
  /**
   * Called once the devices are RUNNING here and RESUMED was sent, before the vCPUs and
   * device activity start: the one moment the VM is exactly what arrived (tests compare
   * device state here).
   */
  readonly beforeRun?: (vm: SimulatedVm) => void | Promise<void>;
}

/** Events a {@link MigrationTarget} emits. */
export interface MigrationTargetEvents {
  /** A record arrived (for progress displays). */
  record: [type: StreamRecord["type"], offset: number];
  /** The target accepted the handshake and is building the VM. */
  accepted: [config: SimulatedVm["config"]];
  /** Every device loaded and LOADED was sent; the VM waits for GO. */
  loaded: [];
}

/** A VM that arrived and runs here. */
export interface TargetResult {
  readonly outcome: "resumed";
  /** The running VM. */
  readonly vm: SimulatedVm;
  /** Hex RAM digest from END, checked against what arrived. */
  readonly ramDigest: string;
  /** Hex SHA-256 of all of guest RAM before resume, when `verifyRam` was set. */
  readonly ramSha256?: string;
  /** Each device's state as its plugin describes it, taken before the guest ran here. */
  readonly devices: Readonly<Record<string, unknown>>;
  /** Time to load each device (RESUMING → STOP), ms by slot. */
  readonly deviceLoadMs: Readonly<Record<string, number>>;
  /** Bytes received on the forward stream. */
  readonly bytesReceived: number;
  /** From END received to resumed, ms. */
  readonly endToResumedMs: number;
}

/**
 * The target side of a migration: checks the handshake against its own plugins before
 * anything is allocated, builds the VM, applies validated records as they arrive, loads
 * the devices after END, and runs the VM only after GO (or, for a one-way restore from a
 * file, once END and every digest checked out). On any failure it reports FAILED and
 * discards the VM: a target never runs half a state.
 */
export class MigrationTarget extends EventEmitter<MigrationTargetEvents> {
  readonly #host: MdevHost;
  readonly #channel: TargetChannel;
  readonly #options: Options;

  constructor(host: MdevHost, channel: TargetChannel, options: MigrationTargetOptions = {}) {
    super();
    this.#host = host;
    this.#channel = channel;
    this.#options = {
      goTimeoutMs: 30_000,
      verifyRam: false,
      startVcpus: true,
      preallocated: undefined,
      beforeRun: undefined,
      ...options,
    };
  }

  /** Receives one VM. Rejects (after telling the source, when it can) if anything is wrong. */
  async receive(): Promise<TargetResult> {
    const session = new TargetSession(this.#host, this.#channel, this.#options, this);
    try {
      return await session.run();
    } catch (err) {
      await session.discard(err);
      throw err;
    }
  }
}

type Options = Required<Omit<MigrationTargetOptions, "preallocated" | "beforeRun">> & {
  readonly preallocated: GuestMemory | undefined;
  readonly beforeRun: MigrationTargetOptions["beforeRun"];
};

class TargetSession {
  readonly decoder = new StreamDecoder();
  vm: SimulatedVm | undefined;
  table: PageDigestTable | undefined;
  /** Pages written at least once: a zero marker for a never-written page needs no write. */
  written: Uint8Array | undefined;
  streams = new Map<number, MigrationDataStream>();
  initDone = new Set<number>();
  precopySlots = new Set<number>();
  acked = false;
  failedReported = false;
  goTimer: NodeJS.Timeout | undefined;
  preallocatedUsed = false;

  constructor(
    readonly host: MdevHost,
    readonly channel: TargetChannel,
    readonly options: Options,
    readonly events: MigrationTarget,
  ) {}

  async answer(
    msg: Parameters<NonNullable<TargetChannel["returnPath"]>["send"]>[0],
  ): Promise<void> {
    await this.channel.returnPath?.send(msg);
  }

  async run(): Promise<TargetResult> {
    let tEnd = 0;
    let ramDigest = "";
    const deviceLoadMs: Record<string, number> = {};
    for await (const chunk of this.channel.receive()) {
      for (const record of this.decoder.push(chunk)) {
        this.events.emit("record", record.type, record.offset);
        switch (record.type) {
          case "HANDSHAKE":
            await this.handshake(record);
            break;
          case "RAM_PAGES":
            this.applyPages(record);
            break;
          case "DEVICE_DATA":
            await this.deviceData(record.slot, record.data);
            break;
          case "DEVICE_INIT_DONE":
            this.initDone.add(record.slot);
            await this.maybeAck();
            break;
          case "DEVICE_CONFIG":
            this.device(record.slot).driver.configWrite(0, record.config);
            break;
          case "ITERATION":
          case "PRECOPY_END":
            break;
          case "END": {
            tEnd = performance.now();
            const table = this.table as PageDigestTable;
            const digest = table.digest();
            if (!digestsEqual(digest, record.ramDigest)) {
              throw new MdevError(
                "EBADMSG",
                "guest RAM digest does not match END: pages were lost or damaged",
              );
            }
            ramDigest = Buffer.from(digest).toString("hex");
            // Load every device now: RESUMING → STOP validates and applies its state.
            for (const d of (this.vm as SimulatedVm).devices) {
              const t0 = performance.now();
              await driveTransition(d.driver, MigState.STOP);
              deviceLoadMs[d.config.slot] = performance.now() - t0;
            }
            if (this.channel.returnPath === null) return this.resume(ramDigest, deviceLoadMs, tEnd);
            await this.answer({ type: "LOADED" });
            this.events.emit("loaded");
            // Without GO the VM must never run: give up (and drop it) when GO is late.
            this.goTimer = setTimeout(() => {
              this.channel.destroy(
                new MdevError("ETIMEDOUT", `no GO within ${this.options.goTimeoutMs} ms of LOADED`),
              );
            }, this.options.goTimeoutMs);
            break;
          }
          case "GO":
            clearTimeout(this.goTimer);
            return this.resume(ramDigest, deviceLoadMs, tEnd);
          case "ABORT":
            throw new MdevError(
              "ECONNABORTED",
              `the source aborted the migration: ${record.reason}`,
            );
        }
      }
    }
    this.decoder.finish();
    throw new MdevError("ECONNRESET", "the source went away before GO; the VM was not started");
  }

  device(slot: number): NonNullable<SimulatedVm["devices"][number]> {
    const d = this.vm?.devices[slot];
    if (d === undefined)
      throw new MdevError("EPROTO", `record for device ${slot}, which the VM does not have`);
    return d;
  }

  async handshake(record: HandshakeBody): Promise<void> {
    const digest = this.decoder.header?.configDigest ?? sha256(record.config);
    if (this.channel.returnPath) await this.channel.returnPath.start(digest);
    const refusal = await this.check(record);
    if (refusal !== undefined) {
      await this.answer({ type: "REJECT", reason: refusal }).catch(() => {});
      this.failedReported = true;
      throw new MdevError("ECONNREFUSED", `refused the VM: ${refusal}`);
    }
  }

  /** Checks the handshake and builds the VM; returns a reason to refuse, or undefined. */
  async check(record: HandshakeBody): Promise<string | undefined> {
    let config: SimulatedVm["config"];
    try {
      config = parseVmConfig(
        JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(record.config)),
      );
    } catch (err) {
      return `VM config is not acceptable: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (record.devices.length !== config.devices.length) {
      return `manifest lists ${record.devices.length} devices, the VM config ${config.devices.length}`;
    }
    for (const m of record.devices) {
      const dev = config.devices[m.slot];
      if (dev === undefined || dev.plugin !== m.plugin || dev.deviceType !== m.deviceType) {
        return `manifest device ${m.slot} (${m.plugin} ${m.deviceType}) does not match the VM config`;
      }
      const plugin = this.host.plugins.find(m.plugin);
      if (plugin === undefined)
        return `device ${dev.slot}: plugin "${m.plugin}" is not installed here`;
      if (!plugin.deviceTypes.some((t) => t.name === m.deviceType)) {
        return `device ${dev.slot}: plugin "${m.plugin}" here offers no device type "${m.deviceType}"`;
      }
      const verdict = plugin.checkCompatible({
        plugin: m.plugin,
        pluginVersion: m.pluginVersion,
        deviceType: m.deviceType,
        compatibility: m.compat,
      });
      if (!verdict.compatible)
        return `device ${dev.slot} (${m.plugin} ${m.pluginVersion}) is not compatible: ${verdict.reason}`;
    }
    try {
      const pre = this.options.preallocated;
      const memory = pre !== undefined && pre.size === config.memoryMiB * 2 ** 20 ? pre : undefined;
      this.vm = await SimulatedVm.create(config, this.host, {
        role: "target",
        ...(memory ? { memory } : {}),
      });
      this.preallocatedUsed = memory !== undefined;
    } catch (err) {
      return `cannot build the VM here: ${err instanceof Error ? err.message : String(err)}`;
    }
    const vm = this.vm;
    this.decoder.setGuestPageCount(vm.memory.pages);
    this.table = new PageDigestTable(vm.memory.pages);
    this.written = new Uint8Array(vm.memory.pages);
    // Back guest RAM before ACCEPT: first touch costs several times a copy here, and paid
    // while pages stream in it halves the transfer rate (measured: 2 GiB took 11 s that
    // way, and 17 s with a prefault thread racing the receiver for page faults). The
    // source keeps running meanwhile. Preallocated memory is already backed.
    if (!this.preallocatedUsed) vm.memory.prefault();
    try {
      for (const d of vm.devices) {
        const { stream } = await driveTransition(d.driver, MigState.RESUMING);
        if (stream === undefined) return `device ${d.config.slot} opened no resuming stream`;
        this.streams.set(d.index, stream);
        if ((d.driver.migrationFlags & MigFlags.PRE_COPY) !== 0) this.precopySlots.add(d.index);
      }
    } catch (err) {
      return `device could not start resuming: ${err instanceof Error ? err.message : String(err)}`;
    }
    this.events.emit("accepted", config);
    await this.answer({ type: "ACCEPT" });
    await this.maybeAck();
    return undefined;
  }

  async maybeAck(): Promise<void> {
    if (this.acked || this.channel.returnPath === null) return;
    for (const slot of this.precopySlots) if (!this.initDone.has(slot)) return;
    this.acked = true;
    await this.answer({ type: "SWITCHOVER_ACK" });
  }

  applyPages(record: Extract<StreamRecord, { type: "RAM_PAGES" }>): void {
    const memory = (this.vm as SimulatedVm).memory;
    const table = this.table as PageDigestTable;
    const written = this.written as Uint8Array;
    const crcs = record.pageCrcs;
    const perSegment = memory.segmentSize / PAGE_SIZE;
    let at = 0;
    let j = 0;
    let i = 0;
    // Runs of consecutive data pages within one memory segment are copied with one call:
    // the copy into guest RAM is the target's largest cost, and per-page calls add to it.
    while (i < record.count) {
      const pfn = record.startPage + i;
      if (!isDataPage(record.kinds, i)) {
        table.zero(pfn);
        if (written[pfn] === 1) memory.pageView(pfn).fill(0);
        i++;
        continue;
      }
      let n = 1;
      while (
        i + n < record.count &&
        isDataPage(record.kinds, i + n) &&
        (pfn + n) % perSegment !== 0
      )
        n++;
      memory.view(pfn * PAGE_SIZE, n * PAGE_SIZE).set(record.data.subarray(at, at + n * PAGE_SIZE));
      for (let k = 0; k < n; k++) {
        written[pfn + k] = 1;
        // The decoder checked the frame CRC from these per-page CRCs: reuse them.
        if (crcs) table.set(pfn + k, crcs[j + k]);
        else
          table.data(pfn + k, record.data.subarray(at + k * PAGE_SIZE, at + (k + 1) * PAGE_SIZE));
      }
      at += n * PAGE_SIZE;
      j += n;
      i += n;
    }
  }

  async deviceData(slot: number, data: Uint8Array): Promise<void> {
    const stream = this.streams.get(slot);
    if (stream === undefined)
      throw new MdevError("EPROTO", `device data for unknown device ${slot}`);
    // The decoder's view is only valid until it resumes, and drivers may keep what they get.
    await stream.write(data.slice());
  }

  async resume(
    ramDigest: string,
    deviceLoadMs: Record<string, number>,
    tEnd: number,
  ): Promise<TargetResult> {
    const vm = this.vm as SimulatedVm;
    for (const d of vm.devices) await driveTransition(d.driver, MigState.RUNNING);
    await this.answer({ type: "RESUMED" }).catch(() => {});
    // Verification holds the guest (vCPUs and device activity) after RESUMED until RAM and
    // device state are recorded, so the check sees exactly what arrived; it is a test mode,
    // and the source's measured downtime does not include the hashing.
    const sha = this.options.verifyRam ? ramSha256(vm.memory) : undefined;
    const devices = vm.describeDevices();
    await this.options.beforeRun?.(vm);
    if (this.options.startVcpus) await vm.start();
    else vm.startDeviceActivity();
    await this.channel.close().catch(() => {});
    return {
      outcome: "resumed",
      vm,
      ramDigest,
      ...(sha === undefined ? {} : { ramSha256: sha }),
      deviceLoadMs,
      devices,
      bytesReceived: this.decoder.offset,
      endToResumedMs: performance.now() - tEnd,
    };
  }

  /** Failure: tell the source (once), drop the VM; it never ran. */
  async discard(err: unknown): Promise<void> {
    clearTimeout(this.goTimer);
    if (!this.failedReported && this.channel.returnPath !== null) {
      const reason = err instanceof Error ? err.message : String(err);
      await Promise.race([
        this.answer({ type: "FAILED", reason: reason.slice(0, 1000) }),
        new Promise((r) => setTimeout(r, 500)),
      ]).catch(() => {});
    }
    this.channel.destroy();
    await this.vm?.destroy().catch(() => {});
    this.vm = undefined;
  }
}
