/**
 * The fixed costs of a switchover — what the paused window costs beyond moving the pending
 * bytes — measured in this run from the operations precopy already performs, so a downtime
 * limit is a promise rather than a bytes-over-bandwidth guess:
 *
 * - the final dirty sync: as long as the sync that ended the last pass;
 * - stopping the devices and loading them on the target: as long as the state
 *   transitions that put them into PRE_COPY at setup took (one driver walk each way);
 * - END's RAM digest, hashed by the source and checked by the target: twice the time of
 *   one digest of the page table, measured once;
 * - the target catching up with what is in flight and answering: the lag from the last
 *   DEVICE_INIT_DONE to the SWITCHOVER_ACK it caused (stream backlog + round trip), when
 *   the VM has PRE_COPY devices to measure it with.
 *
 * Device stop-copy bytes are not here: the policy counts them as pending bytes.
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

  /** The predicted fixed part of the downtime, ms. */
  get fixedMs(): number {
    return this.#syncMs + 2 * this.#transitionMs + 2 * this.#digestMs + this.#lagMs;
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
