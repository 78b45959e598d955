import { ACCEPTED_FORMAT_VERSIONS, MAX_VM_MEMORY_MIB, MdevError } from "@mdevkit/core";

/**
 * Parses a link speed: `10Gbps`, `1.5Gbit`, `500MB/s`, `100mbps`, or plain bytes/s.
 * Bits for "bps"/"bit", bytes for "B/s". Returns bytes per second; 0 means uncapped.
 */
export function parseBandwidth(text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(bps|bit|bit\/s|b\/s|B\/s|B)?\s*$/.exec(text);
  if (!m)
    throw new MdevError("EINVAL", `bandwidth "${text}" is not like 10Gbps, 500MB/s or 1000000`);
  const value = Number(m[1]);
  const scale = { "": 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 }[(m[2] ?? "").toLowerCase()] ?? 1;
  const unit = m[3] ?? "B";
  const bits = unit === "bps" || unit === "bit" || unit === "bit/s" || unit === "b/s";
  return (value * scale) / (bits ? 8 : 1);
}

/** Longest duration a Node timer can wait (2^31 − 1 ms, about 24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * Parses a whole number of milliseconds, e.g. `300`, `300ms`, `2s`, up to
 * {@link MAX_DURATION_MS} (a longer timer would fire after 1 ms).
 */
export function parseDuration(text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s)?\s*$/.exec(text);
  if (!m) throw new MdevError("EINVAL", `duration "${text}" is not like 300ms or 2s`);
  const ms = Math.round(Number(m[1]) * (m[2] === "s" ? 1000 : 1));
  if (ms > MAX_DURATION_MS) {
    throw new MdevError("EINVAL", `duration "${text}" is longer than ${MAX_DURATION_MS} ms`);
  }
  return ms;
}

/** `text` as a whole number in decimal digits (no `0x40`, `1e3` or `+5`), else NaN. */
function wholeNumber(text: string): number {
  const n = /^\s*[0-9]+\s*$/.test(text) ? Number(text) : Number.NaN;
  return Number.isSafeInteger(n) ? n : Number.NaN;
}

/** Parses a positive whole number in decimal digits (no `0x40`, `1e3` or `+5`). */
export function parseCount(text: string): number {
  const n = wholeNumber(text);
  if (!(n > 0)) throw new MdevError("EINVAL", `"${text}" is not a positive whole number`);
  return n;
}

/** Parses a whole number that may be 0 (a count of optional extras). */
export function parseCountOrZero(text: string): number {
  const n = wholeNumber(text);
  if (Number.isNaN(n)) throw new MdevError("EINVAL", `"${text}" is not a whole number`);
  return n;
}

/** Parses a guest RAM size in MiB within what a VM config allows. */
export function parseMemoryMiB(text: string): number {
  const mib = parseCount(text);
  if (mib > MAX_VM_MEMORY_MIB) {
    throw new MdevError("EINVAL", `memory ${mib} MiB is more than ${MAX_VM_MEMORY_MIB} MiB`);
  }
  return mib;
}

/** Parses a stream format version this build writes (`--format-version`). */
export function parseFormatVersion(text: string): number {
  const version = wholeNumber(text);
  const { min, max } = ACCEPTED_FORMAT_VERSIONS;
  if (!(version >= min && version <= max))
    throw new MdevError(
      "EINVAL",
      `format version "${text}" is not one this build writes (${min}..${max})`,
    );
  return version;
}
