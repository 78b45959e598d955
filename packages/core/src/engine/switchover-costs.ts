/**
 * The fixed costs of a switchover — what the paused window costs beyond moving the pending
 * bytes — measured in this run from the operations precopy already performs, so a downtime
 * limit is a promise rather than a bytes-over-bandwidth guess. In the prediction
 * ({@link fixedMs}):
 *
 * - the final dirty sync: as long as the sync that ended the last pass;
 * - END's RAM digest, hashed by the source and checked by the target: twice the time of
 *   one digest of the page table, measured once.
 *
 * Measured and reported ({@link parts}) but not predicted, because they are poor proxies:
 * the device walk into PRE_COPY at setup (entering PRE_COPY can cost far more than
 * stopping), and the lag from the last DEVICE_INIT_DONE to the SWITCHOVER_ACK (it includes
 * loading all initial device data: seconds for a vGPU under load, where the backlog at
 * switchover is one pass). Device stop-copy bytes are pending bytes in the policy.
 */
export class SwitchoverCosts {
  #syncMs = 0;
  #transitionMs = 0;
  #digestMs = 0;
  #lagMs = 0;

  /** The sync that ended a pass took `ms` (the last one counts). */
  sync(ms: number): void {
    this.#syncMs = nonNegative(ms);
  }

  /** Moving every device into its precopy state took `ms` at setup. */
  transitions(ms: number): void {
    this.#transitionMs = nonNegative(ms);
  }

  /** One digest of the page table took `ms`. */
  digest(ms: number): void {
    this.#digestMs = nonNegative(ms);
  }

  /** The target answered the last initial-data marker `ms` after it was sent. */
  lag(ms: number): void {
    this.#lagMs = nonNegative(ms);
  }

  /** Whether the digest was measured yet. */
  get digestMeasured(): boolean {
    return this.#digestMs > 0;
  }

  /** The predicted fixed part of the downtime, ms: final sync and both digests. */
  get fixedMs(): number {
    return this.#syncMs + 2 * this.#digestMs;
  }

  /** Each measured part, ms, for reports. */
  get parts(): {
    readonly syncMs: number;
    readonly transitionsMs: number;
    readonly digestMs: number;
    readonly lagMs: number;
  } {
    return {
      syncMs: this.#syncMs,
      transitionsMs: 2 * this.#transitionMs,
      digestMs: 2 * this.#digestMs,
      lagMs: this.#lagMs,
    };
  }
}

function nonNegative(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}
