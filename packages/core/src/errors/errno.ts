/**
 * errno-style codes used across mdevkit, with Linux's numeric values so a failure reads
 * the same as the kernel's answer to the equivalent ioctl or read/write on a data fd.
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  E2BIG: 7,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EISDIR: 21,
  EINVAL: 22,
  ENOSPC: 28,
  ENOMSG: 42,
  EPROTO: 71,
  EBADMSG: 74,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  EADDRINUSE: 98,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ECONNREFUSED: 111,
  ETIMEDOUT: 110,
  ECANCELED: 125,
} as const;

/** Symbolic errno name, e.g. `"EINVAL"`. */
export type Errno = keyof typeof ERRNO;

/**
 * The code of a system error (`err.code`, e.g. from a socket or a file) when mdevkit has
 * that code, else `fallback`: a failure keeps the system's own reason where it can, so a
 * caller tells "no such file" or "nobody listens" from a generic I/O error.
 */
export function errnoOf(err: unknown, fallback: Errno): Errno {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && Object.hasOwn(ERRNO, code) ? (code as Errno) : fallback;
}
