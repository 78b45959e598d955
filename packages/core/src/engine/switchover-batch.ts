import type { MigrationDataStream } from "../contract/migration-data-stream.js";
import { DevicePhase } from "../stream/records.js";
import type { StreamEncoder } from "../stream/stream-encoder.js";
import type { VmDevice } from "../vm/simulated-vm.js";
import { drainStopCopy } from "./vm-handshake.js";

/**
 * Most bytes a {@link SwitchoverBatch} holds before it writes them (the RAM path's batch):
 * a device whose final state is large still streams out in bounded pieces.
 */
export const SWITCHOVER_BATCH_BYTES = 1 << 20;

/**
 * Frames of the paused window's records (the devices' config spaces, their stop-copy data,
 * END) gathered into as few channel writes as their size allows. Each write is a system
 * call and a wait for the channel's callback: one per record was about a quarter of the
 * source's part of an 8-device switchover. The target reads them in fewer pieces, too.
 */
export class SwitchoverBatch {
  readonly #send: (frames: Uint8Array[]) => Promise<void>;
  readonly #limit: number;
  #frames: Uint8Array[] = [];
  #bytes = 0;

  /** `send` writes frames to the channel in order; batches go out at `limit` bytes. */
  constructor(send: (frames: Uint8Array[]) => Promise<void>, limit = SWITCHOVER_BATCH_BYTES) {
    this.#send = send;
    this.#limit = limit;
  }

  /** Adds one record's frames, writing the batch once it holds `limit` bytes or more. */
  async add(frames: readonly Uint8Array[]): Promise<void> {
    for (const f of frames) {
      this.#frames.push(f);
      this.#bytes += f.byteLength;
    }
    if (this.#bytes >= this.#limit) await this.flush();
  }

  /** Writes whatever the batch holds (nothing when empty). */
  async flush(): Promise<void> {
    if (this.#frames.length === 0) return;
    const frames = this.#frames;
    this.#frames = [];
    this.#bytes = 0;
    await this.#send(frames);
  }
}

/**
 * Adds a stopped device's DEVICE_CONFIG and its whole stop-copy data (read through
 * `guarded`, as {@link drainStopCopy} does) to `batch`; returns the data's bytes. Each chunk
 * is copied: the batch holds it past the next read, which may reuse it.
 */
export async function batchDeviceState(
  batch: SwitchoverBatch,
  encoder: StreamEncoder,
  d: VmDevice,
  stream: MigrationDataStream,
  guarded?: (read: () => Promise<Uint8Array>) => Promise<Uint8Array>,
): Promise<number> {
  await batch.add(encoder.deviceConfig(d.index, d.driver.configRead(0, d.driver.configSpaceSize)));
  let bytes = 0;
  await drainStopCopy(
    stream,
    (chunk) => {
      bytes += chunk.byteLength;
      return batch.add(encoder.deviceData(d.index, DevicePhase.STOP_COPY, new Uint8Array(chunk)));
    },
    guarded,
  );
  return bytes;
}
