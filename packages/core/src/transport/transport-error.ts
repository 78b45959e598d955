import type { Errno } from "../errors/errno.js";
import { MdevError, type MdevErrorOptions } from "../errors/mdev-error.js";

/**
 * A transport failed: the peer went away (ECONNRESET), refused authentication (EPERM), an
 * address was malformed (EINVAL), or I/O failed (EIO). `peer` names the other end.
 */
export class TransportError extends MdevError {
  /** The peer (URL-like description) involved, if known. */
  readonly peer: string;

  constructor(code: Errno, peer: string, message: string, options?: MdevErrorOptions) {
    super(code, `${peer}: ${message}`, options);
    this.peer = peer;
  }
}
