import type { VmDevice } from "../vm/simulated-vm.js";
import { trackUnfinishedCall } from "./unfinished-device-calls.js";

/**
 * Bounds the engine's waits on vendor drivers by the migration's abort. The contract says
 * every driver call settles, but a plugin that awaits an event that never comes would
 * otherwise hold the migration, and in switchover the paused VM, for good: the deadlines or
 * cancel() abort the signal, and the wait rejects with its reason so the rollback can run.
 *
 * JavaScript cannot stop the abandoned call, so its devices are remembered as busy, with
 * the call's promise. The kernel serializes a device's state changes (a second ioctl waits
 * for the first), so calling into a busy device again could interleave with the arc still
 * in flight: the rollback leaves busy devices alone until their call settles, then
 * finishes their rollback (see `returnDevicesToRunning`). The device is also marked for
 * later migrations of its VM (see `refuseWhileDevicesBusy`), which outlive this guard.
 */
export class DeviceCallGuard {
  /** The abandoned call of each busy device, by device index. */
  readonly #busy: Map<number, Promise<unknown>>;
  readonly #signal: AbortSignal;

  constructor(signal: AbortSignal, busy: Map<number, Promise<unknown>> = new Map()) {
    this.#signal = signal;
    this.#busy = busy;
  }

  /** A guard that never gives up (saving to a file has no deadline to keep). */
  static unbounded(): DeviceCallGuard {
    return new DeviceCallGuard(new AbortController().signal);
  }

  /**
   * A guard for cleaning up after this one: the same busy devices (still not to be called),
   * and its own deadline `ms` from now.
   */
  after(ms: number): DeviceCallGuard {
    return new DeviceCallGuard(AbortSignal.timeout(ms), this.#busy);
  }

  /**
   * Runs `call`, which calls into `device`, and settles as it does — or rejects with the
   * abort reason once the signal aborts first, marking `device` busy. Rejects without
   * calling if the signal already aborted, so a sequence stops at its next device.
   */
  run<T>(device: VmDevice, call: () => Promise<T>): Promise<T> {
    const signal = this.#signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    let work: Promise<T>;
    try {
      work = call();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        this.#busy.set(device.index, work);
        trackUnfinishedCall(device, work);
        // The abandoned call may still fail later: the late recovery handles that, and it
        // is no longer anyone's unhandled rejection.
        work.catch(() => {});
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(
        (value) => {
          signal.removeEventListener("abort", onAbort);
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      );
    });
  }

  /** Whether the guard gave up (every later {@link run} rejects at once). */
  get aborted(): boolean {
    return this.#signal.aborted;
  }

  /** Whether a call into `device` was abandoned and may still be running. */
  isBusy(device: VmDevice): boolean {
    return this.#busy.has(device.index);
  }

  /**
   * The call into `device` this guard (or one it was made {@link after}) abandoned,
   * settling as the driver's call does; `undefined` when none was.
   */
  abandonedCall(device: VmDevice): Promise<unknown> | undefined {
    return this.#busy.get(device.index);
  }
}
