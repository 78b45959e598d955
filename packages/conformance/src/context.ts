import {
  type DirtyTrackingMethod,
  isMdevError,
  type MdevError,
  MigFlags,
  MigState,
  migStateName,
  type VendorDriver,
  type VendorPlugin,
} from "@mdevkit/core";
import { hexPreview } from "./bytes.js";
import { createDeviceHarness, type DeviceHarness, drainStream, reach } from "./harness.js";
import type { ResolvedOptions } from "./options.js";
import { firstDifferencePath, statesEqual, stripPaths } from "./state-compare.js";
import { ContractBreach, ensure } from "./violation.js";

/**
 * The codes a stopped device may refuse guest work with: EBUSY, as for a register access
 * while the vCPUs are paused (docs/writing-a-plugin.md). EIO is the base class's "driver
 * bug" (DMA or an interrupt attempted while stopped) and never a polite refusal.
 */
export const STOPPED_REFUSALS: readonly string[] = ["EBUSY"];

/** `err` for a message (an MdevError's message starts with its code). */
function describeError(err: unknown): string {
  if (isMdevError(err)) return err.message;
  return err instanceof Error ? `an untyped ${err.name}: ${err.message}` : String(err);
}

/** Roles get different generator salts, so a target's guest differs from the source's. */
export const Role = { SOURCE: 1, TARGET: 2, REFERENCE: 3 } as const;

/**
 * What every check receives: the plugin, the resolved options and helpers that apply
 * them the same way everywhere (building harnesses, exercising, describing state).
 */
export class CheckContext<D extends VendorDriver = VendorDriver> {
  readonly plugin: VendorPlugin;
  readonly options: ResolvedOptions<D>;
  readonly #harnesses: DeviceHarness<D>[] = [];

  constructor(plugin: VendorPlugin, options: ResolvedOptions<D>) {
    this.plugin = plugin;
    this.options = options;
  }

  /** The flags the devices under test declare (the plugin's, unless options narrow them). */
  get flags(): number {
    return this.options.migrationFlags;
  }

  /** The dirty-tracking method the host chose for the devices under test. */
  get dirtyTracking(): DirtyTrackingMethod {
    return this.options.dirtyTracking;
  }

  /** Whether the devices under test declare `flag`. */
  has(flag: number): boolean {
    return (this.options.migrationFlags & flag) === flag;
  }

  /** Whether the plugin declares PRE_COPY. */
  get precopy(): boolean {
    return this.has(MigFlags.PRE_COPY);
  }

  /** A fresh device on a fresh host; `role` salts the harness generator. */
  async harness(role: number = Role.SOURCE, seed = this.options.seed): Promise<DeviceHarness<D>> {
    const h = await createDeviceHarness<D>(this.plugin, {
      deviceType: this.options.deviceType,
      deviceOptions: this.options.deviceOptions,
      dirtyTracking: this.options.dirtyTracking,
      migrationFlags: this.options.migrationFlags,
      seed,
      memoryBytes: this.options.memoryBytes,
      interruptVectors: this.options.interruptVectors,
      rngSalt: role,
    });
    this.#harnesses.push(h);
    return h;
  }

  /** One round of guest work and device activity on a RUNNING device (errors propagate). */
  async exercise(h: DeviceHarness<D>, rounds = 1): Promise<void> {
    for (let r = 0; r < rounds; r++) {
      await this.options.exercise?.(h.driver, h.rng, h);
      this.tick(h);
    }
  }

  /** Device activity steps (`driver.tick`) without guest work. */
  tick(h: DeviceHarness<D>, n = this.options.ticksPerRound): void {
    for (let i = 0; i < n; i++) h.driver.tick();
  }

  /**
   * Pokes a device that must stay quiet: guest work and activity ticks. Guest work may be
   * refused with one of {@link STOPPED_REFUSALS} (the device declining); any other error
   * is a breach — above all the base class's EIO "driver bug", which means the device
   * tried to DMA or interrupt while stopped and only the base class's gate stopped it.
   * A tick must not throw at all (the `VendorDriver.tick` contract): a stopped device
   * does nothing.
   */
  async poke(h: DeviceHarness<D>, rounds = 3): Promise<void> {
    for (let r = 0; r < rounds; r++) {
      try {
        await this.options.exercise?.(h.driver, h.rng, h);
      } catch (err) {
        if (!isMdevError(err) || !STOPPED_REFUSALS.includes(err.code)) {
          throw new ContractBreach(
            `guest work on the stopped device failed with ${describeError(err)}; a stopped device may only refuse it with ${STOPPED_REFUSALS.join(" or ")}`,
            { cause: err },
          );
        }
      }
      try {
        this.tick(h);
      } catch (err) {
        throw new ContractBreach(
          `tick() on the stopped device threw ${describeError(err)}; a stopped device's tick does nothing and never throws`,
          { cause: err },
        );
      }
    }
  }

  /** Whether the plugin gave `describeState`. */
  get canDescribe(): boolean {
    return this.options.describeState !== undefined;
  }

  /** The plugin's `describeState` minus volatile fields (undefined without the hook). */
  describe(h: DeviceHarness<D>): unknown {
    if (this.options.describeState === undefined) return undefined;
    return stripPaths(this.options.describeState(h.driver), this.options.volatileFields ?? []);
  }

  /**
   * A comparable picture of a device in STOP: `describeState` when given, otherwise the
   * full STOP_COPY image (taken with STOP → STOP_COPY → STOP, which changes nothing).
   */
  async snapshot(h: DeviceHarness<D>): Promise<unknown> {
    if (this.canDescribe) return this.describe(h);
    const state = h.driver.getState();
    ensure(state === MigState.STOP, `snapshot needs STOP, device is in ${migStateName(state)}`);
    const stream = await reach(h.driver, MigState.STOP_COPY);
    ensure(stream !== undefined, "STOP → STOP_COPY opened no stream");
    const { bytes } = await drainStream(stream);
    await reach(h.driver, MigState.STOP);
    return { image: Buffer.from(bytes).toString("hex") };
  }

  /** Throws a breach naming the first difference unless `actual` equals `expected`. */
  expectSameState(actual: unknown, expected: unknown, what: string): void {
    if (!statesEqual(actual, expected)) {
      throw new ContractBreach(`${what}: ${firstDifferencePath(actual, expected) ?? "differs"}`);
    }
  }

  /** Releases every harness this context built. */
  dispose(): void {
    for (const h of this.#harnesses.splice(0)) h.dispose();
  }
}

/**
 * Awaits `action` and returns the typed error it failed with; a breach if it succeeded
 * or threw anything but an `MdevError` (untyped failures are contract violations too).
 */
export async function expectMdevError(
  action: () => Promise<unknown> | unknown,
  what: string,
  codes?: readonly string[],
): Promise<MdevError> {
  let result: unknown;
  try {
    result = await action();
  } catch (err) {
    if (!isMdevError(err)) {
      throw new ContractBreach(
        `${what} failed with an untyped error (${String(err)}); expected an MdevError`,
        {
          cause: err,
        },
      );
    }
    if (codes !== undefined && !codes.includes(err.code)) {
      throw new ContractBreach(
        `${what} failed with ${err.code}, expected ${codes.join(" or ")}: ${err.message}`,
        {
          cause: err,
        },
      );
    }
    return err;
  }
  const shown =
    result instanceof Uint8Array
      ? `returned ${hexPreview(result)}`
      : `succeeded (${String(result)})`;
  throw new ContractBreach(
    `${what} ${shown}; expected ${codes?.join(" or ") ?? "a typed MdevError"}`,
  );
}

/** Awaits `action`; a breach naming `what` if it throws. */
export async function expectSuccess<T>(action: () => Promise<T> | T, what: string): Promise<T> {
  try {
    return await action();
  } catch (err) {
    throw new ContractBreach(`${what} failed: ${String(err)}`, { cause: err });
  }
}
