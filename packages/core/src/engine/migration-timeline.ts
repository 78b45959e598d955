import type { Clock } from "../contract/device-context.js";
import { MdevError } from "../errors/mdev-error.js";

/** Moments of one migration the source's result is built from. */
export type TimelineMark =
  | "started"
  | "paused"
  | "devicesStopped"
  | "ramSent"
  | "endSent"
  | "loaded"
  | "goSent"
  | "resumed";

/**
 * Records when each moment of a migration happened, on the host's clock, so timing stays
 * out of the engine's control flow: the phases mark, the result reads the intervals.
 */
export class MigrationTimeline {
  readonly #clock: Clock;
  readonly #marks = new Map<TimelineMark, bigint>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Records `mark` as now. */
  mark(mark: TimelineMark): void {
    this.#marks.set(mark, this.#clock.nowNs());
  }

  /** The clock's current reading, for intervals that are not marks (an iteration). */
  now(): bigint {
    return this.#clock.nowNs();
  }

  /** Ms from `from` (a reading of {@link now}) to now. */
  msSince(from: bigint): number {
    return nsToMs(this.#clock.nowNs() - from);
  }

  /** Ms since `started` (0 before it). */
  elapsedMs(): number {
    const started = this.#marks.get("started");
    return started === undefined ? 0 : this.msSince(started);
  }

  /** Ms from mark `from` to mark `to`; EINVAL if either was not recorded. */
  between(from: TimelineMark, to: TimelineMark): number {
    return nsToMs(this.#at(to) - this.#at(from));
  }

  #at(mark: TimelineMark): bigint {
    const t = this.#marks.get(mark);
    if (t === undefined) throw new MdevError("EINVAL", `migration timeline has no "${mark}" mark`);
    return t;
  }
}

function nsToMs(ns: bigint): number {
  return Number(ns) / 1e6;
}
