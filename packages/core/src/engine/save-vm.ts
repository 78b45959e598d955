import type { MigrationDataStream } from "../contract/migration-data-stream.js";
import { detailOf } from "../errors/mdev-error.js";
import { driveTransition } from "../fsm/drive-transition.js";
import { MigState } from "../fsm/mig-state.js";
import { DirtyBitmap } from "../memory/dirty-bitmap.js";
import { FORMAT_VERSION } from "../stream/format.js";
import { StreamEncoder } from "../stream/stream-encoder.js";
import type { SourceChannel } from "../transport/channel.js";
import type { SimulatedVm } from "../vm/simulated-vm.js";
import {
  allSupportP2P,
  returnDevicesToRunning,
  stopDevicesForSwitchover,
} from "./device-handover.js";
import { MigrationError } from "./migration-error.js";
import { PageDigestTable } from "./page-digest-table.js";
import { RamSender } from "./ram-sender.js";
import { batchDeviceState, SwitchoverBatch } from "./switchover-batch.js";
import { refuseWhileDevicesBusy } from "./unfinished-device-calls.js";
import { vmHandshake } from "./vm-handshake.js";

/** What {@link saveVm} wrote. */
export interface SaveResult {
  /** Bytes written. */
  readonly bytes: number;
  /** Data pages and zero-page markers written. */
  readonly dataPages: number;
  readonly zeroPages: number;
  /** Hex RAM digest in END. */
  readonly ramDigest: string;
  /** Time the VM was paused before the image was complete, ms. */
  readonly pausedMs: number;
}

/** How {@link saveVm} writes. */
export interface SaveOptions {
  /**
   * Stream format version (2..5), for a restore by an older build, which refuses a newer
   * format at the header. Default: this build's.
   */
  readonly formatVersion?: number;
}

/**
 * Saves a VM to a one-way channel the way `virsh save` does: pause, stop every device
 * (P2P-quiet first when all support it), write RAM, config spaces and device state, END.
 * The VM stays paused afterwards — it now lives in the file. If saving fails, the VM is
 * rolled back and runs on as before.
 * @throws MdevError EINVAL for a format version this build does not write (nothing paused).
 * @throws MdevError EBUSY while a device still finishes a driver call of an aborted
 *   migration (nothing paused; see `deviceCallsSettled`).
 */
export async function saveVm(
  vm: SimulatedVm,
  channel: SourceChannel,
  options: SaveOptions = {},
): Promise<SaveResult> {
  const version = options.formatVersion ?? FORMAT_VERSION;
  const encoder = new StreamEncoder({ version });
  // Encoded first: a format version this build does not write is refused before anything.
  const head = encoder.start(vmHandshake(vm));
  refuseWhileDevicesBusy(vm.devices);
  const t0 = performance.now();
  const wasRunning = vm.running;
  try {
    await channel.send(head);
    if (wasRunning) await vm.pause();
    // After a handover whose outcome is unknown the devices sit in STOP_COPY with their
    // stream consumed: go back to STOP so STOP_COPY opens a fresh, complete one.
    for (const d of vm.devices)
      if (d.driver.getState() === MigState.STOP_COPY)
        await driveTransition(d.driver, MigState.STOP);
    const streams = await stopDevicesForSwitchover(
      vm.devices,
      new Map<number, MigrationDataStream>(),
      allSupportP2P(vm.devices),
    );
    await channel.send(encoder.precopyEnd());
    const table = new PageDigestTable(vm.memory.pages, version);
    const all = new DirtyBitmap(vm.memory.pages);
    all.setAll();
    await new RamSender(vm.memory, encoder, channel, table).send(all, "zero-copy");
    const batch = new SwitchoverBatch((frames) => channel.send(frames));
    for (const d of vm.devices)
      await batchDeviceState(batch, encoder, d, streams.get(d.index) as MigrationDataStream);
    const digest = table.digest();
    await batch.add(encoder.end(digest));
    await batch.flush();
    await channel.close();
    const stats = encoder.stats;
    return {
      bytes: stats.bytes,
      dataPages: stats.dataPages,
      zeroPages: stats.zeroPages,
      ramDigest: Buffer.from(digest).toString("hex"),
      pausedMs: performance.now() - t0,
    };
  } catch (err) {
    channel.destroy();
    const problems = await returnDevicesToRunning(vm.devices);
    if (wasRunning && !vm.running)
      await vm.resume().catch((e: unknown) => problems.push(`vCPUs did not resume: ${String(e)}`));
    throw new MigrationError("EIO", "switchover", `save failed: ${detailOf(err)}`, {
      cause: err,
      rolledBack: true,
      problems,
    });
  }
}
