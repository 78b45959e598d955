import type { MigrationOptions } from "./migration-options.js";

/** What the source knows at the end of an iteration. */
export interface ConvergenceInput {
  /** Dirty RAM bytes found by the sync that ends this iteration. */
  readonly dirtyRamBytes: number;
  /**
   * The part of `dirtyRamBytes` the devices reported (DMA logs, pinned pages, vendor
   * bitmaps): throttling the vCPUs does not reduce it (default 0).
   */
  readonly deviceDirtyRamBytes?: number;
  /** Device precopy bytes still pending (initial + dirty). */
  readonly devicePrecopyBytes: number;
  /** Sum of devices' stop-copy size estimates. */
  readonly deviceStopCopyBytes: number;
  /** Measured bandwidth, bytes/s (of the last iteration). */
  readonly bandwidth: number;
  /** Dirty rate seen in the last iteration, bytes/s. */
  readonly dirtyRate: number;
  /** Whether every device has reported its initial precopy bytes loaded (or switchover-ack is off). */
  readonly switchoverAcked: boolean;
  /** Whether every device's initial precopy bytes were sent. */
  readonly initialPrecopyDone: boolean;
  /**
   * The switchover's fixed costs measured in this run (final dirty sync, END digest on
   * both sides: `SwitchoverCosts`), ms; added to the transfer time (default 0).
   */
  readonly fixedCostMs?: number;
}

/**
 * The policy's decision. `await-ack`: the rest fits and every initial precopy byte was sent,
 * only the target's switchover-ack is missing — wait for it (bounded by the caller) while
 * dirty pages keep flowing; such passes do not spend the iteration budget.
 */
export type ConvergenceDecision =
  | { readonly action: "switchover"; readonly expectedDowntimeMs: number }
  | { readonly action: "await-ack"; readonly expectedDowntimeMs: number }
  | {
      readonly action: "iterate";
      readonly expectedDowntimeMs: number;
      readonly throttle?: number;
      /** The rest fits already: this pass only shrinks the downtime (`settlePasses`). */
      readonly settling?: true;
    }
  | { readonly action: "abort"; readonly reason: string; readonly expectedDowntimeMs: number };

/**
 * A settling pass must be expected to leave at most this share of the dirty RAM, so each
 * takes at least a quarter off the final pass. The expectation is pessimistic for a guest
 * that rewrites a hot set: it prices the pages dirtied during the next pass at the last
 * pass's rate of distinct pages, though most are pages already dirty. At a half, the
 * dirtying bench VM switched over after its third pass whenever that pass ran slow, with
 * 1,150–1,400 pages left; at three quarters, 12 interleaved pairs: final pass median 1,246 →
 * 522 pages, downtime 37.5 → 24.4 ms, total 1326 → 1186 ms, better in 12 of 12.
 */
const SETTLE_SHRINK = 0.75;

/**
 * Dirty RAM that moves in less than this (ms, at the measured bandwidth) is left for the
 * final pass: another pass could not take a measurable share off the downtime.
 */
const SETTLE_MIN_TRANSFER_MS = 1;

/**
 * Decides after each iteration whether to switch over, iterate (possibly throttling the
 * vCPUs), wait for the switchover-ack or give up, from pending bytes over measured
 * bandwidth plus the switchover's measured fixed costs — the rule QEMU's `migration_iteration_run` applies with
 * `threshold_size = bandwidth × downtime_limit`. Like QEMU, a missing switchover-ack only
 * holds the switchover back (`migration_can_switchover`); it never counts as a failed
 * iteration, so `maxIterations` bounds only passes that did not converge.
 *
 * Unlike QEMU, fitting the limit is not yet the end: while another pass is expected to take
 * at least a quarter off the dirty RAM (the pages the last pass's dirty rate would dirty
 * again while the next pass sends the rest), up to `settlePasses` more passes run first. A
 * limit is an upper bound the guest may suffer; a pass over a few thousand pages costs
 * milliseconds of total time and takes a share of the final RAM off the pause.
 */
export class ConvergencePolicy {
  #throttle = 0;
  /** Dirty-rate-high passes since the throttle last rose (QEMU's `dirty_rate_high_cnt`). */
  #dirtyRateHigh = 0;
  #counted = 0;
  #settled = 0;

  constructor(private readonly options: MigrationOptions) {}

  /** Current throttle in percent. */
  get throttle(): number {
    return this.#throttle;
  }

  /** Expected downtime for `pendingBytes` at `bandwidth`, ms. */
  static expectedDowntimeMs(pendingBytes: number, bandwidth: number): number {
    return bandwidth > 0 ? (pendingBytes / bandwidth) * 1000 : Number.POSITIVE_INFINITY;
  }

  /** Iterations that spent the `maxIterations` budget so far. */
  get countedIterations(): number {
    return this.#counted;
  }

  /** The decision for the state in `input`. */
  decide(input: ConvergenceInput): ConvergenceDecision {
    const pending = input.dirtyRamBytes + input.devicePrecopyBytes + input.deviceStopCopyBytes;
    const expectedDowntimeMs =
      ConvergencePolicy.expectedDowntimeMs(pending, input.bandwidth) + (input.fixedCostMs ?? 0);
    const fits = expectedDowntimeMs <= this.options.downtimeLimitMs;
    if (fits && input.initialPrecopyDone) {
      if (!input.switchoverAcked) return { action: "await-ack", expectedDowntimeMs };
      if (this.#worthSettling(input)) {
        this.#settled++;
        return { action: "iterate", expectedDowntimeMs, settling: true };
      }
      return { action: "switchover", expectedDowntimeMs };
    }
    this.#counted++;
    if (this.#counted >= this.options.maxIterations) {
      if (fits) {
        return {
          action: "abort",
          expectedDowntimeMs,
          reason: `devices still had initial precopy data to send after ${this.#counted} iterations`,
        };
      }
      return {
        action: "abort",
        expectedDowntimeMs,
        reason:
          `did not converge after ${this.#counted} iterations: dirty rate ${formatRate(input.dirtyRate)} ` +
          `against bandwidth ${formatRate(input.bandwidth)}, ${formatBytes(pending)} pending needs ` +
          `${expectedDowntimeMs.toFixed(0)} ms of downtime (limit ${this.options.downtimeLimitMs} ms)` +
          ((input.fixedCostMs ?? 0) > 0
            ? `, ${(input.fixedCostMs ?? 0).toFixed(0)} ms of it measured fixed switchover costs`
            : "") +
          this.#advice(input),
      };
    }
    // Only RAM that does not fit is the vCPUs' doing; a device's initial data is not, nor
    // are the pages the devices report.
    if (
      !fits &&
      this.options.autoConverge &&
      this.#throttleCanHelp(input) &&
      this.#secondDirtyRateHigh(input)
    ) {
      this.#throttle =
        this.#throttle === 0
          ? this.options.throttleInitial
          : Math.min(this.options.throttleMax, this.#throttle + this.options.throttleIncrement);
      return { action: "iterate", expectedDowntimeMs, throttle: this.#throttle };
    }
    return { action: "iterate", expectedDowntimeMs };
  }

  /**
   * Whether the rest would fit with the vCPUs writing nothing: only then can a throttle
   * help. Otherwise QEMU's rule would hold a guest's vCPUs off up to 99 % of the time to
   * no effect — as when a vGPU's pinned pages, reported dirty at every sync, take longer
   * to send than the limit.
   */
  #throttleCanHelp(input: ConvergenceInput): boolean {
    const devicesOnly =
      (input.deviceDirtyRamBytes ?? 0) + input.devicePrecopyBytes + input.deviceStopCopyBytes;
    const floorMs =
      ConvergencePolicy.expectedDowntimeMs(devicesOnly, input.bandwidth) + (input.fixedCostMs ?? 0);
    return floorMs <= this.options.downtimeLimitMs;
  }

  /** How the reason for giving up ends: what the throttle did, or why it could not help. */
  #advice(input: ConvergenceInput): string {
    if (!this.#throttleCanHelp(input)) {
      return (
        `; the devices reported ${formatBytes(input.deviceDirtyRamBytes ?? 0)} of the RAM dirty, ` +
        "which no vCPU throttle reduces" +
        (this.options.autoConverge ? ` (throttle stayed at ${this.#throttle}%)` : "")
      );
    }
    return this.options.autoConverge
      ? `; throttle reached ${this.#throttle}%`
      : "; consider --auto-converge";
  }

  /**
   * QEMU's trigger (`migration_trigger_throttle`): a pass whose guest dirtied more than
   * `throttleTriggerThreshold` % of the bytes it sent counts, and every second one counted
   * raises the throttle. A pass below it does not reset the count: the pending bytes of a
   * guest that outruns the link wobble from pass to pass, and a rule that wanted two passes
   * in a row without progress stepped so rarely that a guest dirtying at twice the link's
   * rate was still unthrottled enough to outrun it after 30 passes.
   */
  #secondDirtyRateHigh(input: ConvergenceInput): boolean {
    // Dirtied and sent over the same pass: their rates' ratio is their bytes' ratio.
    if (input.dirtyRate * 100 <= input.bandwidth * this.options.throttleTriggerThreshold)
      return false;
    if (++this.#dirtyRateHigh < 2) return false;
    this.#dirtyRateHigh = 0;
    return true;
  }

  /** Passes taken only to shrink a rest that fitted already. */
  get settlePasses(): number {
    return this.#settled;
  }

  /** Whether one more pass is expected to take a quarter off the dirty RAM (see the class). */
  #worthSettling(input: ConvergenceInput): boolean {
    if (this.#settled >= this.options.settlePasses || input.bandwidth <= 0) return false;
    const nextPassMs = ConvergencePolicy.expectedDowntimeMs(input.dirtyRamBytes, input.bandwidth);
    if (nextPassMs < SETTLE_MIN_TRANSFER_MS) return false;
    const dirtiedMeanwhile = (input.dirtyRate * nextPassMs) / 1000;
    return dirtiedMeanwhile <= SETTLE_SHRINK * input.dirtyRamBytes;
  }
}

/** `1.23 GB/s`-style rate. */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** `1.23 GB`-style size (decimal units, as link speeds are quoted). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "∞ B";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 && unit > 0 ? 2 : 0)} ${units[unit]}`;
}
