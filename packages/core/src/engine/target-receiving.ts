import type { Clock } from "../contract/device-context.js";
import type { MigrationDataStream } from "../contract/migration-data-stream.js";
import { MdevError } from "../errors/mdev-error.js";
import { driveTransition } from "../fsm/drive-transition.js";
import { MigFlags } from "../fsm/mig-flags.js";
import { MigState } from "../fsm/mig-state.js";
import { PAGE_SIZE } from "../memory/page.js";
import { copyBytes } from "../memory/shared-copy.js";
import { FORMAT_VERSION } from "../stream/format.js";
import { isDataPage } from "../stream/ram-run.js";
import type { DeviceLoadTime, EndBody, RamPagesBody, StreamRecord } from "../stream/records.js";
import type { SimulatedVm, VmDevice } from "../vm/simulated-vm.js";
import { PageDigestTable } from "./page-digest-table.js";
import { settleEach } from "./settle-each.js";
import type { PreparedVm } from "./target-vm.js";

/** A VM whose state arrived whole: END checked, every device loaded (STOP). */
export interface LoadedVm {
  readonly vm: SimulatedVm;
  /** Hex RAM digest from END, equal to what arrived. */
  readonly ramDigest: string;
  /** Each device's load time (RESUMING → STOP), by manifest slot, µs. */
  readonly loadTimes: readonly DeviceLoadTime[];
  /** Clock reading when END arrived. */
  readonly endAt: bigint;
}

/** What a {@link ReceivingState} tells its session as the stream flows. */
export interface ReceivingEvents {
  /** Every PRE_COPY device's initial data arrived (the duplex target answers SWITCHOVER_ACK). */
  readonly initialDataLoaded: () => Promise<void>;
  /**
   * Every record up to ITERATION `iteration` was applied (the duplex target answers
   * ITERATION_ACK to a source of format version 3 or later); absent when nobody asks.
   */
  readonly iterationApplied?: ((iteration: number) => Promise<void>) | undefined;
}

/**
 * The target while the stream flows: writes pages into guest RAM and the digest table,
 * feeds device bytes to the resuming streams, and tells its session when every PRE_COPY
 * device's initial data arrived and when a pass was applied ({@link ReceivingEvents}).
 */
export class ReceivingState {
  /** The state's name. */
  readonly kind = "receiving";
  /** The VM being received; it never ran. */
  readonly vm: SimulatedVm;
  readonly #streams: ReadonlyMap<number, MigrationDataStream>;
  readonly #table: PageDigestTable;
  /** Pages holding data that arrived (1), not zero: a zero marker for any other needs no write. */
  readonly #written: Uint8Array;
  readonly #awaitingInitData: Set<number>;
  readonly #events: ReceivingEvents;
  #initialDataReported = false;

  /** `version` is the stream's format version: it defines END's RAM digest. */
  constructor(prepared: PreparedVm, events: ReceivingEvents, version: number = FORMAT_VERSION) {
    this.vm = prepared.vm;
    this.#streams = prepared.streams;
    this.#table = new PageDigestTable(this.vm.memory.pages, version);
    this.#written = new Uint8Array(this.vm.memory.pages);
    this.#awaitingInitData = new Set(
      this.vm.devices
        .filter((d) => (d.driver.migrationFlags & MigFlags.PRE_COPY) !== 0)
        .map((d) => d.index),
    );
    this.#events = events;
  }

  /** Reports initial data loaded at once when no device has precopy data to wait for. */
  async start(): Promise<void> {
    await this.#maybeReportInitialData();
  }

  /**
   * Applies one record of the precopy or stop-copy part of the stream (everything between
   * HANDSHAKE and END); EPROTO for any other record.
   */
  async apply(record: StreamRecord): Promise<void> {
    switch (record.type) {
      case "RAM_PAGES":
        this.applyPages(record);
        return;
      case "DEVICE_DATA":
        await this.deviceData(record.slot, record.data);
        return;
      case "DEVICE_INIT_DONE":
        await this.initDone(record.slot);
        return;
      case "DEVICE_CONFIG":
        this.deviceConfig(record.slot, record.config);
        return;
      case "ITERATION":
        // The pass's blocks are hashed now, while the source still runs the guest: END
        // then leaves only the final pass's blocks to hash in the paused window.
        this.#table.refresh();
        await this.#events.iterationApplied?.(record.iteration);
        return;
      case "PRECOPY_END":
        return;
      default:
        throw new MdevError("EPROTO", `${record.type} while receiving the VM's state`);
    }
  }

  /** DEVICE_INIT_DONE: every initial precopy byte of `slot` arrived. */
  async initDone(slot: number): Promise<void> {
    this.#awaitingInitData.delete(slot);
    await this.#maybeReportInitialData();
  }

  async #maybeReportInitialData(): Promise<void> {
    if (this.#initialDataReported || this.#awaitingInitData.size > 0) return;
    this.#initialDataReported = true;
    await this.#events.initialDataLoaded();
  }

  /** DEVICE_CONFIG: the device's config space. */
  deviceConfig(slot: number, config: Uint8Array): void {
    this.#device(slot).driver.configWrite(0, config);
  }

  /** DEVICE_DATA: bytes for a device's resuming stream. */
  async deviceData(slot: number, data: Uint8Array): Promise<void> {
    const stream = this.#streams.get(slot);
    if (stream === undefined)
      throw new MdevError("EPROTO", `device data for unknown device ${slot}`);
    // The decoder's view is only valid until it resumes, and drivers may keep what they get:
    // a copy, even of a Buffer view (whose slice() would be another view).
    await stream.write(new Uint8Array(data));
  }

  /**
   * RAM_PAGES: writes the run into guest RAM (its data pages are already there when the
   * decoder wrote them as they arrived: `inSink`) and records each page's CRC.
   */
  applyPages(record: RamPagesBody): void {
    const memory = this.vm.memory;
    const written = this.#written;
    const perSegment = memory.segmentSize / PAGE_SIZE;
    const inSink = record.inSink === true;
    const sparse = record.sparse === true;
    let at = 0;
    let i = 0;
    // Runs of consecutive data pages within one memory segment are copied with one call:
    // the copy into guest RAM is the target's largest cost, and per-page calls add to it.
    while (i < record.count) {
      const pfn = record.startPage + i;
      if (!isDataPage(record.kinds, i)) {
        // A zero marker for a page never written needs no write: fresh memory is zero. A
        // sparse run's page without data is one the source knows is here already. A page
        // once cleared is zero again, so zeroing is bounded by the data that arrived: a
        // source repeating zero markers cannot make the target fill memory for each.
        if (!sparse && written[pfn] === 1) {
          memory.pageView(pfn).fill(0);
          written[pfn] = 0;
        }
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
      if (!inSink)
        copyBytes(
          memory.view(pfn * PAGE_SIZE, n * PAGE_SIZE),
          record.data.subarray(at, at + n * PAGE_SIZE),
        );
      written.fill(1, pfn, pfn + n);
      at += n * PAGE_SIZE;
      i += n;
    }
    // The decoder checked the frame CRC from per-page CRCs: the table reuses them.
    this.#table.record(record);
  }

  /**
   * END: checks the RAM digest against what arrived, then loads every device (RESUMING →
   * STOP validates and applies its state), timing each on `clock`. The devices load side by
   * side, as QEMU's load threads do: a driver whose load waits on its hardware overlaps the
   * others, so the paused window grows with the slowest load rather than with the device
   * count. Every load settles before the first failure is thrown (the VM is dropped next).
   */
  async load(end: EndBody, clock: Clock): Promise<LoadedVm> {
    const endAt = clock.nowNs();
    const digest = this.#table.check(end.ramDigest);
    const loadTimes = await settleEach(
      this.vm.devices.map(async (d): Promise<DeviceLoadTime> => {
        const t0 = clock.nowNs();
        await driveTransition(d.driver, MigState.STOP);
        return { slot: d.index, loadUs: Math.round(Number(clock.nowNs() - t0) / 1000) };
      }),
    );
    return { vm: this.vm, ramDigest: Buffer.from(digest).toString("hex"), loadTimes, endAt };
  }

  #device(slot: number): VmDevice {
    const d = this.vm.devices[slot];
    if (d === undefined)
      throw new MdevError("EPROTO", `record for device ${slot}, which the VM does not have`);
    return d;
  }
}
