/**
 * Device migration states of the VFIO migration uAPI v2 (`enum vfio_device_mig_state`),
 * with the kernel's numeric values: they travel in streams and logs as numbers.
 */
export const MigState = {
  /** The device failed; only reset leaves this state (back to RUNNING). */
  ERROR: 0,
  /** No DMA, no interrupts, no state change; config space still answers. */
  STOP: 1,
  /** Fully operational. */
  RUNNING: 2,
  /** Stopped; a saving stream yields the final state, then a permanent end. */
  STOP_COPY: 3,
  /** Stopped; a resuming stream accepts state bytes. */
  RESUMING: 4,
  /** Running, but starts no new peer-to-peer DMA. */
  RUNNING_P2P: 5,
  /** Running and saving: the stream carries precopy data while the device works. */
  PRE_COPY: 6,
  /** PRE_COPY that is also P2P-quiet; the same saving stream continues. */
  PRE_COPY_P2P: 7,
} as const;

/** One of the numeric {@link MigState} values. */
export type MigState = (typeof MigState)[keyof typeof MigState];

/** Number of states; valid values are `0 … MIG_STATE_COUNT - 1`. */
export const MIG_STATE_COUNT = 8;

/** Every state in numeric order. */
export const ALL_MIG_STATES: readonly MigState[] = [0, 1, 2, 3, 4, 5, 6, 7];

const NAMES = Object.fromEntries(Object.entries(MigState).map(([name, value]) => [value, name]));

/** True when `value` is an integer naming a state (it may still be unsupported by a device). */
export function isMigState(value: unknown): value is MigState {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) < MIG_STATE_COUNT;
}

/** The uAPI name of a state (`"STOP_COPY"`), or `"<invalid N>"` for anything else. */
export function migStateName(value: number): string {
  return isMigState(value) ? (NAMES[value] as string) : `<invalid ${String(value)}>`;
}
