import {
  chooseDirtyTracking,
  type DirtyTrackingMethod,
  isLegalFlagSet,
  isMdevError,
  type MigFlagSet,
  migFlagsName,
  type VendorDriver,
  type VendorPlugin,
} from "@mdevkit/core";
import type { DeviceHarness } from "./harness.js";
import type { Rng } from "./rng.js";
import { ConformanceConfigError } from "./violation.js";

/** Ids of the suite's test groups, one file each under `src/groups/`. */
export type GroupId =
  | "contract"
  | "streams"
  | "round-trip"
  | "bad-streams"
  | "quiescence"
  | "dirty-tracking"
  | "determinism"
  | "host-values"
  | "end-to-end";

/**
 * What a plugin tells the suite about its devices. Everything is optional: without hooks
 * the suite still checks the contract, the streams, determinism of the saved bytes and
 * round trips (comparing re-saved images). Each hook makes one more invariant checkable.
 *
 * `D` is the plugin's driver class; hooks receive the driver the plugin created.
 */
export interface ConformanceOptions<D extends VendorDriver = VendorDriver> {
  /** Device type to instantiate; the plugin's first type by default. */
  readonly deviceType?: string;
  /** Device options from the VM config (`DeviceContext.options`); `{}` by default. */
  readonly deviceOptions?: Readonly<Record<string, unknown>>;
  /**
   * The dirty-tracking method the host chooses for the device (a VM config's
   * `dirtyTracking`); the device type's default (first offered) by default. Run the
   * suite once per method a plugin offers to check each.
   */
  readonly dirtyTracking?: DirtyTrackingMethod;
  /**
   * The flags devices built with {@link deviceOptions} declare, when those options narrow
   * the plugin's (e.g. a stop-copy-only option); the plugin's flags by default.
   */
  readonly migrationFlags?: MigFlagSet;
  /** Seed for the device context and every generator the suite uses; 1 by default. */
  readonly seed?: number;
  /** Guest RAM of each harness, bytes (multiple of 4 KiB); 1 MiB by default. */
  readonly memoryBytes?: number;
  /** Interrupt vectors wired to the device; 8 by default (as SimulatedVm wires). */
  readonly interruptVectors?: number;
  /**
   * Makes the device do guest-visible work: program registers, arm DMA, deliver input.
   * Called while RUNNING to build interesting state, and also while the device is
   * stopped to poke it — then it may throw an `MdevError` EBUSY (a refused access) or do
   * nothing, but must not make the device act; any other error, the base class's EIO
   * "driver bug" above all, fails the quiescence group. Draw every choice from `rng`. `harness`
   * is absent in the end-to-end group, where the engine built the device.
   */
  exercise?(driver: D, rng: Rng, harness?: DeviceHarness<D>): void | Promise<void>;
  /**
   * The device's migratable state as plain, comparable data (no class instances that
   * `structuredClone` cannot copy). Without it the suite compares full STOP_COPY images.
   */
  describeState?(driver: D): unknown;
  /**
   * Dotted paths (`"ports.*.txCount"`) removed from {@link describeState}'s result before
   * comparing: values that legitimately differ between source and target.
   */
  readonly volatileFields?: readonly string[];
  /**
   * Values that live only on the host (host DMA addresses, shadow page frames, pinned
   * page handles) and so must never appear in the stream. Called on the source after
   * {@link exercise}; each value must be at least 0x10000, so the scan means something.
   */
  hostOnlyValues?(
    driver: D,
    harness: DeviceHarness<D>,
  ): readonly (number | bigint)[] | Promise<readonly (number | bigint)[]>;
  /**
   * Returns compatibility data the plugin must refuse, derived from a good blob (e.g. a
   * higher stream major, another port count). Enables the early-incompatibility check.
   */
  incompatibleCompat?(blob: Uint8Array): Uint8Array;
  /**
   * Rewrites a complete saved stream into one a newer plugin version would send (a
   * section with a higher version, a new mandatory section). The load must be refused.
   */
  newerVersionStream?(stream: Uint8Array): Uint8Array;
  /**
   * Length of the stream prefix the plugin validates as soon as it arrives (a header, a
   * match block). A corrupted prefix must then be refused by a `write`, not only at STOP.
   */
  readonly earlyValidationBytes?: number;
  /**
   * When `getDataSize` is an estimate rather than an upper bound: how far the actual
   * STOP_COPY size may exceed it, in bytes. 0 (strict upper bound) by default.
   */
  readonly dataSizeTolerance?: number;
  /**
   * Drives a device into ERROR (e.g. injects a fault that makes an arc fail with
   * `enterErrorState`). Without it the suite tries a garbage load; if that does not
   * reach ERROR, reset-from-ERROR is not checked.
   */
  driveToError?(driver: D, harness: DeviceHarness<D>): Promise<void>;
  /** Device activity steps per exercise round (calls of `driver.tick`); 8 by default. */
  readonly ticksPerRound?: number;
  /** Groups to leave out, with the reason shown as a skipped test. */
  readonly skip?: Readonly<Partial<Record<GroupId, string>>>;
  /** Property-test runs; `MDEVKIT_FC_RUNS` or 100 by default. */
  readonly numRuns?: number;
  /**
   * Per-test timeout for the vitest registrar, ms; 120 000 by default. It catches a hang, not
   * a slow check: on a loaded two-core machine a check has taken 15 s that takes 2 s alone.
   */
  readonly timeoutMs?: number;
}

/** Options with defaults applied, as the checks see them. */
export interface ResolvedOptions<D extends VendorDriver = VendorDriver>
  extends ConformanceOptions<D> {
  readonly deviceType: string;
  readonly deviceOptions: Readonly<Record<string, unknown>>;
  readonly dirtyTracking: DirtyTrackingMethod;
  readonly migrationFlags: MigFlagSet;
  readonly seed: number;
  readonly memoryBytes: number;
  readonly interruptVectors: number;
  readonly ticksPerRound: number;
  readonly numRuns: number;
  readonly dataSizeTolerance: number;
}

/** Property-test runs from `MDEVKIT_FC_RUNS`, or `fallback`. */
export function fcRunsFromEnv(fallback = 100): number {
  const raw = process.env["MDEVKIT_FC_RUNS"];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new ConformanceConfigError(`MDEVKIT_FC_RUNS=${raw} is not a positive integer`);
  return n;
}

/** Applies defaults and checks the options against the plugin. */
export function resolveOptions<D extends VendorDriver>(
  plugin: VendorPlugin,
  options: ConformanceOptions<D>,
): ResolvedOptions<D> {
  const deviceType = options.deviceType ?? plugin.deviceTypes[0]?.name;
  if (deviceType === undefined)
    throw new ConformanceConfigError(`plugin "${plugin.name}" declares no device type`);
  if (!plugin.deviceTypes.some((t) => t.name === deviceType)) {
    throw new ConformanceConfigError(
      `plugin "${plugin.name}" offers no device type "${deviceType}" (offers: ${plugin.deviceTypes.map((t) => t.name).join(", ")})`,
    );
  }
  const memoryBytes = options.memoryBytes ?? 1 << 20;
  if (!Number.isSafeInteger(memoryBytes) || memoryBytes < 4096 || memoryBytes % 4096 !== 0)
    throw new ConformanceConfigError(`memoryBytes ${memoryBytes} must be a multiple of 4096`);
  let dirtyTracking: DirtyTrackingMethod;
  try {
    dirtyTracking = chooseDirtyTracking(plugin, deviceType, options.dirtyTracking);
  } catch (err) {
    if (!isMdevError(err)) throw err;
    throw new ConformanceConfigError(err.message);
  }
  const migrationFlags = options.migrationFlags ?? plugin.migrationFlags;
  if (!isLegalFlagSet(migrationFlags) || (migrationFlags & ~plugin.migrationFlags) !== 0) {
    throw new ConformanceConfigError(
      `migrationFlags ${migFlagsName(migrationFlags)} must be a legal set within the plugin's ${migFlagsName(plugin.migrationFlags)}`,
    );
  }
  return {
    ...options,
    deviceType,
    deviceOptions: options.deviceOptions ?? {},
    dirtyTracking,
    migrationFlags,
    seed: options.seed ?? 1,
    memoryBytes,
    interruptVectors: options.interruptVectors ?? 8,
    ticksPerRound: options.ticksPerRound ?? 8,
    numRuns: options.numRuns ?? fcRunsFromEnv(),
    dataSizeTolerance: options.dataSizeTolerance ?? 0,
  };
}
