import type { Errno } from "../errors/errno.js";
import { MdevError, type MdevErrorOptions } from "../errors/mdev-error.js";

/**
 * A transport failed: nobody listens at the address (ECONNREFUSED; ENOENT for a UNIX
 * socket path that does not exist), the connection attempt timed out (ETIMEDOUT), the peer
 * went away (ECONNRESET), refused authentication (EPERM), an address was malformed
 * (EINVAL), or I/O failed (EIO). `peer` names the other end.
 */
export class TransportError extends MdevError {
  /** The peer (URL-like description) involved, if known. */
  readonly peer: string;

  constructor(code: Errno, peer: string, message: string, options?: MdevErrorOptions) {
    super(code, `${peer}: ${message}`, options);
    this.peer = peer;
  }
}
