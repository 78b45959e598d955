import { ERRNO, type Errno } from "./errno.js";

/** Options accepted by every mdevkit error. */
export interface MdevErrorOptions {
  /** The error that caused this one, if any. */
  cause?: unknown;
  /**
   * Set by a driver hook whose failure leaves the device unusable: the contract then
   * moves the device to ERROR (leavable only by reset) instead of keeping the last state.
   */
  enterErrorState?: boolean;
}

/**
 * Base class of every error mdevkit raises on purpose. It carries an errno-style `code`
 * (and its Linux number in `errno`) so callers branch on the code, never on the message;
 * the message names what was wrong.
 */
export class MdevError extends Error {
  /** Symbolic errno, e.g. `"EINVAL"`. */
  readonly code: Errno;
  /** Linux's numeric value of {@link MdevError.code}. */
  readonly errno: number;
  /** Whether the failing device must be considered broken (moved to ERROR). */
  readonly enterErrorState: boolean;

  constructor(code: Errno, message: string, options: MdevErrorOptions = {}) {
    super(
      `${code}: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.code = code;
    this.errno = ERRNO[code];
    this.enterErrorState = options.enterErrorState ?? false;
  }
}

/** True when `err` is an {@link MdevError}, optionally with the given code. */
export function isMdevError(err: unknown, code?: Errno): err is MdevError {
  return err instanceof MdevError && (code === undefined || err.code === code);
}
