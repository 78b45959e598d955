import type { MigrationDataStream } from "../contract/migration-data-stream.js";
import { isMdevError, MdevError } from "../errors/mdev-error.js";
import { driveTransition } from "../fsm/drive-transition.js";
import { MigFlags } from "../fsm/mig-flags.js";
import { MigState } from "../fsm/mig-state.js";
import type { VmDevice } from "../vm/simulated-vm.js";
import { DeviceCallGuard } from "./device-call-guard.js";
import { DEVICE_READ_BYTES } from "./vm-handshake.js";

/** Most precopy bytes drained from one device per iteration, so RAM is not starved. */
const DEVICE_PRECOPY_BYTES_PER_ITERATION = 64 << 20;

/** What the source still has to move for its devices. */
export interface PendingDeviceBytes {
  /** Precopy bytes still pending (initial + dirty), PRE_COPY devices. */
  readonly precopy: number;
  /** Sum of every device's stop-copy size estimate. */
  readonly stopCopy: number;
  /** Whether every PRE_COPY device's initial bytes were read. */
  readonly initialDone: boolean;
}

/** Where drained precopy bytes go. */
export interface PrecopyOutput {
  /** One chunk of a device's precopy data. */
  data(device: VmDevice, chunk: Uint8Array): Promise<void>;
  /** Every initial precopy byte of `device` went out (DEVICE_INIT_DONE). */
  initDone(device: VmDevice): Promise<void>;
}

/**
 * The source's PRE_COPY devices: moves the capable ones into PRE_COPY, drains what they
 * have each iteration, and reports what is pending for the convergence check. Every driver
 * call is waited for through `guard` (see {@link DeviceCallGuard}).
 */
export class DevicePrecopy {
  readonly #devices: readonly VmDevice[];
  readonly #guard: DeviceCallGuard;
  readonly #streams = new Map<number, MigrationDataStream>();
  readonly #initialSent = new Set<number>();

  constructor(devices: readonly VmDevice[], guard = DeviceCallGuard.unbounded()) {
    this.#devices = devices;
    this.#guard = guard;
  }

  /** PRE_COPY streams by device index (the saving streams switchover continues). */
  get streams(): ReadonlyMap<number, MigrationDataStream> {
    return this.#streams;
  }

  /** Moves every PRE_COPY-capable device into PRE_COPY. */
  async start(): Promise<void> {
    for (const d of this.#devices) {
      if ((d.driver.migrationFlags & MigFlags.PRE_COPY) === 0) continue;
      const { stream } = await this.#guard.run(d, () =>
        driveTransition(d.driver, MigState.PRE_COPY),
      );
      if (stream === undefined)
        throw new MdevError(
          "EIO",
          `device ${d.config.slot} entered PRE_COPY without a data stream`,
        );
      this.#streams.set(d.index, stream);
    }
  }

  /** Reads what each PRE_COPY device has now (up to a per-iteration cap); returns the bytes. */
  async drain(out: PrecopyOutput): Promise<number> {
    let total = 0;
    for (const d of this.#devices) {
      const stream = this.#streams.get(d.index);
      if (stream === undefined) continue;
      let taken = 0;
      while (taken < DEVICE_PRECOPY_BYTES_PER_ITERATION) {
        const chunk = await this.#guard.run(d, () => readPrecopy(stream));
        if (chunk === undefined) break;
        await out.data(d, chunk);
        taken += chunk.byteLength;
      }
      total += taken;
      if (
        !this.#initialSent.has(d.index) &&
        (await this.#guard.run(d, () => d.driver.precopyInfo())).initialBytes === 0
      ) {
        this.#initialSent.add(d.index);
        await out.initDone(d);
      }
    }
    return total;
  }

  /** Pending device bytes for the convergence check. */
  async pending(): Promise<PendingDeviceBytes> {
    let precopy = 0;
    let stopCopy = 0;
    let initialDone = true;
    for (const d of this.#devices) {
      if (this.#streams.has(d.index)) {
        const info = await this.#guard.run(d, () => d.driver.precopyInfo());
        precopy += info.initialBytes + info.dirtyBytes;
        if (info.initialBytes > 0) initialDone = false;
      }
      stopCopy += await this.#guard.run(d, () => d.driver.getDataSize());
    }
    return { precopy, stopCopy, initialDone };
  }
}

/** One chunk, or undefined at the temporary end (ENOMSG) or an empty read. */
async function readPrecopy(stream: MigrationDataStream): Promise<Uint8Array | undefined> {
  try {
    const chunk = await stream.read(DEVICE_READ_BYTES);
    return chunk.byteLength === 0 ? undefined : chunk;
  } catch (err) {
    if (isMdevError(err, "ENOMSG")) return undefined;
    throw err;
  }
}
