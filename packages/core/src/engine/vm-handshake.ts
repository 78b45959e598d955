import type { MigrationDataStream } from "../contract/migration-data-stream.js";
import type { HandshakeBody } from "../stream/records.js";
import type { SimulatedVm } from "../vm/simulated-vm.js";

/** Largest chunk read from a device's data stream at once. */
export const DEVICE_READ_BYTES = 1 << 20;

/** The HANDSHAKE a VM's stream starts with: its config as JSON and the device manifest. */
export function vmHandshake(vm: SimulatedVm): Omit<HandshakeBody, "type"> {
  return {
    config: new TextEncoder().encode(JSON.stringify(vm.config)),
    devices: vm.devices.map((d) => ({
      slot: d.index,
      plugin: d.plugin.name,
      pluginVersion: d.plugin.version,
      deviceType: d.config.deviceType,
      compat: d.driver.compatibilityData(),
    })),
  };
}

/**
 * Reads a stopped device's saving stream to its permanent end, handing each chunk on.
 * Each read goes through `guarded` (the source bounds it: see DeviceCallGuard).
 */
export async function drainStopCopy(
  stream: MigrationDataStream,
  chunk: (bytes: Uint8Array) => Promise<void>,
  guarded: (read: () => Promise<Uint8Array>) => Promise<Uint8Array> = (read) => read(),
): Promise<void> {
  for (;;) {
    const bytes = await guarded(() => stream.read(DEVICE_READ_BYTES));
    if (bytes.byteLength === 0) return;
    await chunk(bytes);
  }
}
