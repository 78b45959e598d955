/**
 * The fixed costs of a switchover — what the paused window costs beyond moving the pending
 * bytes — measured in this run from the operations precopy already performs, so a downtime
 * limit is a promise rather than a bytes-over-bandwidth guess. In the prediction
 * ({@link fixedMs}):
 *
 * - the final dirty sync: as long as the sync that ended the last pass;
 * - END's RAM digest, hashed by the source and checked by the target: twice the time of
 *   the digest that ended the last pass. Blockwise (format 4) that hashed the blocks the
 *   pass changed, as END will hash those its final pass changed; a whole-table digest
 *   (formats 2–3) costs the same every time.
 *
 * Left out, because precopy has no operation that stands for them: the device walk into
 * PRE_COPY at setup costs far more than stopping (seconds for a vGPU under load, against
 * milliseconds to stop it), and the lag from the last DEVICE_INIT_DONE to the
 * SWITCHOVER_ACK includes loading all initial device data, where the backlog at switchover
 * is one pass. Device stop-copy bytes are pending bytes in the policy.
 */
export class SwitchoverCosts {
  #syncMs = 0;
  #digestMs = 0;

  /** The sync that ended a pass took `ms` (the last one counts). */
  sync(ms: number): void {
    this.#syncMs = nonNegative(ms);
  }

  /** A digest of the page table took `ms` (the last one counts). */
  digest(ms: number): void {
    this.#digestMs = nonNegative(ms);
  }

  /** Whether the digest was measured yet. */
  get digestMeasured(): boolean {
    return this.#digestMs > 0;
  }

  /** The predicted fixed part of the downtime, ms: final sync and both digests. */
  get fixedMs(): number {
    return this.#syncMs + 2 * this.#digestMs;
  }
}

function nonNegative(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}
