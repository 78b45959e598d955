import type { Errno } from "./errno.js";
import { MdevError, type MdevErrorOptions } from "./mdev-error.js";

/**
 * A refused or failed device-state transition. `from` and `to` are the numeric
 * `MigState` values of the arc (or request) involved, so tooling can report them.
 */
export class FsmError extends MdevError {
  /** State the device was in when the request or arc was refused. */
  readonly from: number;
  /** State that was requested (or the arc's destination). */
  readonly to: number;

  constructor(code: Errno, from: number, to: number, message: string, options?: MdevErrorOptions) {
    super(code, message, options);
    this.from = from;
    this.to = to;
  }
}
