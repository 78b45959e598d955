import type { ReturnMessage, ReturnPathReader, ReturnRecord } from "../../../src/index.js";

/** A return path the test writes answers into, one at a time, as the target would. */
export class ScriptedReader implements ReturnPathReader {
  readonly #queue: (ReturnRecord | undefined | Error)[] = [];
  #wake: (() => void) | undefined;
  #seq = 0;

  /** The target sends `msg`. */
  answer(msg: ReturnMessage): void {
    this.#push({ ...msg, seq: this.#seq, offset: 52 + this.#seq++ * 16 } as ReturnRecord);
  }

  /** The target closes the path. */
  close(): void {
    this.#push(undefined);
  }

  /** The path breaks (a decode or transport error). */
  break(err: Error): void {
    this.#push(err);
  }

  #push(item: ReturnRecord | undefined | Error): void {
    this.#queue.push(item);
    this.#wake?.();
  }

  /** The script decides what the target says: nothing to check against the source. */
  forwardStarted(): void {}

  forwardIteration(): void {}

  forwardEnded(): void {}

  async next(): Promise<ReturnRecord | undefined> {
    while (this.#queue.length === 0) await new Promise<void>((r) => (this.#wake = r));
    const item = this.#queue.shift();
    if (item instanceof Error) throw item;
    return item;
  }
}
