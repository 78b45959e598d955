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
 * The brand every mdevkit error carries, from any copy of `@mdevkit/core`. A plugin
 * package built against its own copy (its `node_modules/@mdevkit/core`) throws errors
 * whose class is not the engine's; `Symbol.for` is shared by every copy in the process,
 * so the engine still knows them (an ENOMSG read from a plugin's precopy stream must stay
 * "nothing now", not become a failed migration).
 */
const MDEV_ERROR_BRAND: unique symbol = Symbol.for("mdevkit.MdevError");

/** Whether `value` is an error made by the MdevError class of some copy of core. */
function isBranded(value: unknown): value is MdevError {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { [MDEV_ERROR_BRAND]?: unknown })[MDEV_ERROR_BRAND] === true
  );
}

/** Whether a class named `name` made `value` or is one of its class's ancestors. */
function hasClassNamed(value: object, name: string): boolean {
  for (let p = Object.getPrototypeOf(value); p !== null; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p, "constructor") && (p.constructor as { name?: unknown }).name === name)
      return true;
  }
  return false;
}

/**
 * Base class of every error mdevkit raises on purpose. It carries an errno-style `code`
 * (and its Linux number in `errno`) so callers branch on the code, never on the message;
 * the message names what was wrong.
 *
 * `instanceof MdevError` (and of its subclasses) also holds for errors of another copy
 * of `@mdevkit/core` loaded in the same process: a branded error matches a class when
 * its own class or one of its ancestors has that class's name.
 */
export class MdevError extends Error {
  /** Symbolic errno, e.g. `"EINVAL"`. */
  readonly code: Errno;
  /** Linux's numeric value of {@link MdevError.code}. */
  readonly errno: number;
  /** Whether the failing device must be considered broken (moved to ERROR). */
  readonly enterErrorState: boolean;
  /**
   * What was wrong, without the `CODE: ` prefix of {@link Error.message}: the words to
   * put inside another error's message, which carries its own code (see {@link detailOf}).
   */
  readonly detail: string;

  constructor(code: Errno, message: string, options: MdevErrorOptions = {}) {
    super(
      `${code}: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.code = code;
    this.detail = message;
    this.errno = ERRNO[code];
    this.enterErrorState = options.enterErrorState ?? false;
  }
}

// On the prototype, not enumerable: every instance of every subclass carries it, and
// neither JSON nor a console listing of an error shows it.
Object.defineProperty(MdevError.prototype, MDEV_ERROR_BRAND, { value: true });

// `err instanceof C`, for MdevError and every subclass C (it is inherited): the ordinary
// prototype check, or for an error of another copy of core, the brand and a class named
// like C among its ancestors. Outside the class body because `this` is the class asked
// about (a subclass included), and TypeScript keeps narrowing `instanceof C` to C.
Object.defineProperty(MdevError, Symbol.hasInstance, {
  value: function hasInstance(this: abstract new (...args: never[]) => unknown, value: unknown) {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return isBranded(value) && hasClassNamed(value, this.name);
  },
});

/**
 * The words of `err` to quote inside another error: an MdevError's message without its
 * `CODE: ` prefix (the wrapping error states a code of its own, so quoting the whole
 * message printed the code twice, e.g. "ECONNREFUSED: … ECONNREFUSED: …"), any other
 * error's message, or the value as a string.
 */
export function detailOf(err: unknown): string {
  if (isBranded(err)) {
    // An error of an older copy of core has no detail: its prefix is exactly `CODE: `.
    const { detail, code, message } = err as { detail?: unknown; code: string; message: string };
    if (typeof detail === "string") return detail;
    return message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * True when `err` is an {@link MdevError}, optionally with the given code — of this copy
 * of `@mdevkit/core` or of any other loaded in the process (a plugin's own).
 */
export function isMdevError(err: unknown, code?: Errno): err is MdevError {
  return isBranded(err) && (code === undefined || err.code === code);
}
