// Small statistics and formatting helpers shared by the benchmark's sections.

/** Sorted copy of the finite numbers in `xs`. */
const sorted = (xs) => xs.filter(Number.isFinite).sort((a, b) => a - b);

/** Median (mean of the middle two for an even count); NaN for none. */
export function median(xs) {
  const s = sorted(xs);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile `p` (0–100): with 5 runs, p95 is the largest. */
export function percentile(xs, p) {
  const s = sorted(xs);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/**
 * The run with the median `key` — the lower middle one for an even count, so the row is a
 * run that happened, never an average of two — or the first failed run (`ok` false), which
 * must show instead of a figure. A run `skipped` (the machine lacked the RAM for it) is no
 * failure and no figure: it is left out, and returned only when every run was skipped.
 */
export function medianBy(runs, key) {
  const counted = runs.filter((r) => !r.skipped);
  if (counted.length === 0) return runs[0];
  const failed = counted.find((r) => !r.ok);
  if (failed) return failed;
  const byKey = [...counted].sort((a, b) => key(a) - key(b));
  return byKey[(byKey.length - 1) >> 1];
}

/** Smallest and largest. */
export const range = (xs) => {
  const s = sorted(xs);
  return [s[0] ?? Number.NaN, s.at(-1) ?? Number.NaN];
};

/** "1234 ms" / "12.3 ms". */
export const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(v < 100 ? 1 : 0)} ms` : "–");

/** "1.61 GB". */
export const gb = (b) => (Number.isFinite(b) ? `${(b / 1e9).toFixed(2)} GB` : "–");

/** "812 MB/s" or "1.21 GB/s". */
export const rate = (bps) =>
  !Number.isFinite(bps)
    ? "–"
    : bps >= 1e9
      ? `${(bps / 1e9).toFixed(2)} GB/s`
      : `${(bps / 1e6).toFixed(0)} MB/s`;

/** "0.82×" (`digits` decimals). */
export const ratio = (v, digits = 2) => (Number.isFinite(v) ? `${v.toFixed(digits)}×` : "–");

/** "2.0 GiB" / "512 MiB". */
export const mib = (m) => (m >= 1024 ? `${(m / 1024).toFixed(m % 1024 ? 1 : 0)} GiB` : `${m} MiB`);

/** "1.23 GiB" of RSS from kB. */
export const rssGiB = (kB) => (Number.isFinite(kB) ? `${(kB / 2 ** 20).toFixed(2)} GiB` : "–");

/** "median (min–max)" of `xs` formatted by `f`. */
export function spread(xs, f) {
  if (!Number.isFinite(median(xs))) return "–";
  const [lo, hi] = range(xs);
  return xs.length > 1 ? `${f(median(xs))} (${f(lo)}–${f(hi)})` : f(median(xs));
}
