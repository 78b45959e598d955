/**
 * Ring pointers as the hardware keeps them: head (consumer), tail (producer), depth, and a
 * `full` bit, because with every slot usable `head === tail` means either empty or full.
 *
 * The register semantics are QAT's: a write of the tail that lands on the head sets
 * "full" (the producer caught up), a write of the head clears it (the consumer took
 * entries). That is why restoring a ring needs the fix-ups of
 * `bank_state_restore`: writing head then tail of a saved *empty* ring leaves it "full"
 * unless the head is written once more.
 */

/** One ring's pointers, as plain data. */
export interface RingState {
  /** Guest-physical address of entry 0. */
  readonly baseGpa: number;
  /** Entries in the ring. */
  readonly depth: number;
  /** Next entry the consumer takes. */
  readonly head: number;
  /** Next entry the producer writes. */
  readonly tail: number;
  /** Whether head = tail means "all entries used" rather than "empty". */
  readonly full: boolean;
  /** Phase the producer writes next (toggles each time the tail wraps to 0). */
  readonly phase: number;
}

/** Status bits derived from the pointers (QAT `ringestat` / `ringnfstat` / `ringfstat`). */
export interface RingStat {
  /** No entry queued. */
  readonly empty: boolean;
  /** At least three quarters of the entries queued. */
  readonly nearFull: boolean;
  /** Every entry queued. */
  readonly full: boolean;
}

/** A mutable ring. */
export class Ring {
  /** See {@link RingState}. */
  baseGpa: number;
  /** See {@link RingState}. */
  readonly depth: number;
  /** See {@link RingState}. */
  head = 0;
  /** See {@link RingState}. */
  tail = 0;
  /** See {@link RingState}. */
  full = false;
  /** See {@link RingState}; 1 after reset, as hisi and QAT start. */
  phase = 1;

  constructor(baseGpa: number, depth: number) {
    this.baseGpa = baseGpa;
    this.depth = depth;
  }

  /** Entries between head and tail. */
  get count(): number {
    if (this.full) return this.depth;
    return (this.tail - this.head + this.depth) % this.depth;
  }

  /** Whether no entry is queued. */
  get empty(): boolean {
    return this.count === 0;
  }

  /** Status bits. */
  stat(): RingStat {
    const n = this.count;
    return { empty: n === 0, nearFull: n >= (this.depth * 3) / 4, full: n === this.depth };
  }

  /** Raw tail register write: landing on the head means the producer filled the ring. */
  writeTail(v: number): void {
    this.tail = v;
    this.full = this.tail === this.head;
  }

  /** Raw head register write: the consumer took entries, so the ring cannot be full. */
  writeHead(v: number): void {
    this.head = v;
    this.full = false;
  }

  /** The device produced one entry at the tail (phase flips when the tail wraps). */
  produce(): void {
    this.tail = (this.tail + 1) % this.depth;
    if (this.tail === 0) this.phase ^= 1;
    this.full = this.tail === this.head;
  }

  /** The device consumed one entry at the head. */
  consume(): void {
    this.head = (this.head + 1) % this.depth;
    this.full = false;
  }

  /** Moves the head back by `k` entries (a checkpoint rewinding fetched, unfinished work). */
  rewind(k: number): void {
    if (k <= 0) return;
    this.head = (this.head - k + this.depth * Math.ceil(k / this.depth)) % this.depth;
    this.full = this.head === this.tail;
  }

  /** Plain copy. */
  snapshot(): RingState {
    return {
      baseGpa: this.baseGpa,
      depth: this.depth,
      head: this.head,
      tail: this.tail,
      full: this.full,
      phase: this.phase,
    };
  }
}

/** Status bits of a saved ring. */
export function statOf(s: RingState): RingStat {
  const n = s.full ? s.depth : (s.tail - s.head + s.depth) % s.depth;
  return { empty: n === 0, nearFull: n >= (s.depth * 3) / 4, full: n === s.depth };
}

/**
 * Restores a request ring (SQ, QAT TX) through the raw registers: head, then tail, then —
 * if the saved ring was empty — the head again, because the tail write made it "full".
 * `step` records each register write, in order, for the restore-order trace.
 */
export function restoreRequestRing(ring: Ring, saved: RingState, step: (s: string) => void): void {
  ring.writeHead(saved.head);
  step("head");
  ring.writeTail(saved.tail);
  step("tail");
  if (!saved.full && saved.head === saved.tail) {
    ring.writeHead(saved.head);
    step("head(empty fix-up)");
  }
  ring.phase = saved.phase;
}

/**
 * Restores a response ring (CQ, QAT RX): tail, then head, then — if the saved ring was
 * full — the tail again, because the head write made it "empty".
 */
export function restoreResponseRing(ring: Ring, saved: RingState, step: (s: string) => void): void {
  ring.writeTail(saved.tail);
  step("tail");
  ring.writeHead(saved.head);
  step("head");
  if (saved.full) {
    ring.writeTail(saved.tail);
    step("tail(full fix-up)");
  }
  ring.phase = saved.phase;
}
