import { MdevError } from "../errors/mdev-error.js";
import { quotePeerText } from "../errors/peer-text.js";
import type { ReturnRecord } from "../stream/records.js";
import type { ReturnPathReader } from "../transport/channel.js";

type AnswerType = "ACCEPT" | "LOADED" | "RESUMED";

/**
 * Reads the target's answers in the background while the source streams, so a FAILED or a
 * vanished target is noticed at the next iteration rather than at the end, and the
 * switchover-ack is a flag the convergence check reads.
 *
 * The pump runs only when the event loop gets to the socket: a source that never yields
 * (a precopy pass over a small VM is all microtasks) never sees an answer that arrived.
 * Callers yield between passes and wait with {@link waitForSwitchoverAck}, a timer-bounded
 * wait that lets the pending bytes be read.
 */
export class TargetAnswers {
  readonly #seen = new Map<string, ReturnRecord>();
  readonly #waiters = new Set<() => void>();
  readonly #onFailure: ((err: MdevError) => void) | undefined;
  #failure: MdevError | undefined;
  #switchoverAcked = false;
  #iterationAcked = 0;

  /**
   * @param onFailure told of the first failure (FAILED, REJECT, a vanished target) as soon
   *   as it is read, even while the source is blocked elsewhere, e.g. in a write to a
   *   target that stopped reading after it said FAILED: the source cancels there and then.
   */
  constructor(reader: ReturnPathReader, onFailure?: (err: MdevError) => void) {
    this.#onFailure = onFailure;
    void this.#pump(reader);
  }

  async #pump(reader: ReturnPathReader): Promise<void> {
    try {
      for (;;) {
        const answer = await reader.next();
        if (answer === undefined) {
          this.#fail(new MdevError("ECONNRESET", "the target closed the connection"));
          return;
        }
        // The target's words are quoted, not trusted: one bounded line, no terminal escapes.
        if (answer.type === "REJECT")
          this.#fail(
            new MdevError(
              "ECONNREFUSED",
              `the target refused the VM: ${quotePeerText(answer.reason)}`,
            ),
          );
        else if (answer.type === "FAILED")
          this.#fail(new MdevError("EIO", `the target failed: ${quotePeerText(answer.reason)}`));
        else if (answer.type === "SWITCHOVER_ACK") this.#switchoverAcked = true;
        else if (answer.type === "ITERATION_ACK") this.#iterationAcked = answer.iteration;
        this.#seen.set(answer.type, answer);
        this.#wake();
      }
    } catch (err) {
      this.#fail(
        err instanceof MdevError
          ? err
          : new MdevError("EIO", `return path broke: ${String(err)}`, { cause: err }),
      );
    }
  }

  #fail(err: MdevError): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#wake();
    this.#onFailure?.(err);
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** The first failure the target reported (or its disappearance), if any. */
  get failure(): MdevError | undefined {
    return this.#failure;
  }

  /**
   * Whether the target said FAILED (it discarded the VM), as opposed to vanishing or timing
   * out: after GO, only FAILED proves the VM never ran there.
   */
  get failedExplicitly(): boolean {
    return this.#seen.has("FAILED");
  }

  /** Whether the target acknowledged that every device loaded its initial precopy data. */
  get switchoverAcked(): boolean {
    return this.#switchoverAcked;
  }

  /** The last ITERATION the target said it applied (ITERATION_ACK), 0 before the first. */
  get iterationAcked(): number {
    return this.#iterationAcked;
  }

  /**
   * Waits at most `timeoutMs` until the target acknowledged ITERATION `iteration` (or a
   * later one): true once it did, false when the time ran out first. Rejects on a target
   * failure or on `signal`.
   */
  waitForIterationAck(
    iteration: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    return this.#wait(
      () => (this.#iterationAcked >= iteration ? true : undefined),
      timeoutMs,
      signal,
      () => false,
    );
  }

  /** Throws the target's failure, if one arrived. */
  check(): void {
    if (this.#failure) throw this.#failure;
  }

  /**
   * Waits for an answer of `type`; rejects on a failure, on `signal`, or after `timeoutMs`
   * (ETIMEDOUT naming what was awaited).
   */
  waitFor(type: AnswerType, timeoutMs: number, signal?: AbortSignal): Promise<ReturnRecord> {
    return this.#wait(
      () => this.#seen.get(type),
      timeoutMs,
      signal,
      () => {
        throw new MdevError("ETIMEDOUT", `no ${type} from the target within ${timeoutMs} ms`);
      },
    );
  }

  /**
   * Waits at most `timeoutMs` for the switchover-ack: true once it arrived, false when the
   * time ran out first. Rejects on a target failure or on `signal`.
   */
  waitForSwitchoverAck(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.#wait(
      () => (this.#switchoverAcked ? true : undefined),
      timeoutMs,
      signal,
      () => false,
    );
  }

  #wait<T>(
    got: () => T | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    onTimeout: () => T,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        const value = got();
        if (value !== undefined) done(() => resolve(value));
        else if (this.#failure) done(() => reject(this.#failure));
        else if (signal?.aborted) done(() => reject(signal.reason));
      };
      const timer = setTimeout(
        () =>
          done(() => {
            try {
              resolve(onTimeout());
            } catch (err) {
              reject(err);
            }
          }),
        timeoutMs,
      );
      const onAbort = (): void => settle();
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        this.#waiters.delete(settle);
        signal?.removeEventListener("abort", onAbort);
        fn();
      };
      this.#waiters.add(settle);
      signal?.addEventListener("abort", onAbort);
      settle();
    });
  }
}
