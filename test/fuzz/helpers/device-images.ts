// Real device images of every plugin, taken from running devices exactly as the engine
// takes them (PRE_COPY drained while the guest works, then STOP_COPY), and the target side
// of a load: a fresh device moved to RESUMING, fed the bytes in arbitrary chunks, then STOP.
import {
  type ConformanceOptions,
  createDeviceHarness,
  createRng,
  type DeviceHarness,
  drainStream,
  loadDevice,
  reach,
  saveDevice,
} from "@mdevkit/conformance";
import { MigState, type VendorDriver, type VendorPlugin } from "@mdevkit/core";
import { accelPlugin } from "@mdevkit/plugin-accel";
import { accelConformance } from "@mdevkit/plugin-accel/conformance";
import { gvtgPlugin } from "@mdevkit/plugin-gvt-g";
import { gvtgConformance } from "@mdevkit/plugin-gvt-g/conformance";
import { mttyPlugin } from "@mdevkit/plugin-mtty";
import { mttyConformanceOptions } from "@mdevkit/plugin-mtty/conformance";
import { sriovNicPlugin } from "@mdevkit/plugin-sriov-nic";
import { sriovNicConformanceOptions } from "@mdevkit/plugin-sriov-nic/conformance";

/** A plugin and the options its conformance suite runs with (device type, seed, hooks). */
export interface FuzzedPlugin {
  readonly name: string;
  readonly plugin: VendorPlugin;
  readonly options: ConformanceOptions<VendorDriver>;
}

/** One entry of {@link FUZZED_PLUGINS}: a plugin under its name, with its conformance options. */
function fuzzed<D extends VendorDriver>(
  name: string,
  plugin: VendorPlugin,
  options: ConformanceOptions<D>,
): FuzzedPlugin {
  return { name, plugin, options: options as ConformanceOptions<VendorDriver> };
}

/**
 * Every plugin in plugins/. `mdevkit new-plugin NAME` adds its two imports above and its
 * entry above the marker line.
 */
export const FUZZED_PLUGINS: readonly FuzzedPlugin[] = [
  fuzzed("mtty", mttyPlugin, mttyConformanceOptions),
  fuzzed("gvt-g", gvtgPlugin, gvtgConformance),
  fuzzed("sriov-nic", sriovNicPlugin, sriovNicConformanceOptions),
  fuzzed("accel", accelPlugin, accelConformance),
  // mdevkit new-plugin: entries above this line
];

/** A device built as the plugin's conformance suite builds it. */
export function harness(p: FuzzedPlugin, seed: number, salt: number): Promise<DeviceHarness> {
  const o = p.options;
  return createDeviceHarness(p.plugin, {
    deviceType: o.deviceType ?? p.plugin.deviceTypes[0]?.name ?? "",
    seed,
    rngSalt: salt,
    memoryBytes: o.memoryBytes ?? 2 ** 20,
    ...(o.deviceOptions ? { deviceOptions: o.deviceOptions } : {}),
    ...(o.dirtyTracking ? { dirtyTracking: o.dirtyTracking } : {}),
    ...(o.migrationFlags !== undefined ? { migrationFlags: o.migrationFlags } : {}),
    ...(o.interruptVectors !== undefined ? { interruptVectors: o.interruptVectors } : {}),
  });
}

/** One round of guest work and `ticks` activity steps (the conformance suite's exercise). */
export async function exercise(p: FuzzedPlugin, h: DeviceHarness, rounds: number): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    await p.options.exercise?.(h.driver, h.rng, h);
    for (let t = 0; t < (p.options.ticksPerRound ?? 8); t++) h.driver.tick();
  }
}

/** The image a running, exercised device sends (precopy and stop-copy bytes together). */
export async function deviceImage(
  p: FuzzedPlugin,
  seed: number,
  rounds: number,
): Promise<Uint8Array> {
  const h = await harness(p, seed, 1);
  try {
    await exercise(p, h, rounds);
    const saved = await saveDevice(h.driver, { whilePrecopy: () => exercise(p, h, 1) });
    return saved.bytes;
  } finally {
    h.dispose();
  }
}

/** Loads `bytes` into a fresh target device in chunks of `sizes`; the device is left in STOP. */
export async function loadIntoFresh(
  p: FuzzedPlugin,
  bytes: Uint8Array,
  sizes: readonly number[],
): Promise<DeviceHarness> {
  const h = await harness(p, p.options.seed ?? 1, 2);
  try {
    await loadDevice(h.driver, bytes, sizes);
    return h;
  } catch (err) {
    h.dispose();
    throw err;
  }
}

/** STOP → STOP_COPY → STOP on a loaded device: the image it would send on. */
export async function resave(h: DeviceHarness): Promise<Uint8Array> {
  const stream = await reach(h.driver, MigState.STOP_COPY);
  if (stream === undefined) throw new Error("STOP → STOP_COPY opened no stream");
  const { bytes } = await drainStream(stream);
  await reach(h.driver, MigState.STOP);
  return bytes;
}

/** A generator for the guest work on a loaded device. */
export const guestRng = (seed: number) => createRng(seed);
