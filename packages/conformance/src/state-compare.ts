import { isDeepStrictEqual } from "node:util";

/**
 * Removes the dotted `paths` from a plain value; `*` matches every key or index at its
 * level (`"ports.*.txCount"`). Returns a new value; the input is not touched.
 */
export function stripPaths(value: unknown, paths: readonly string[]): unknown {
  let out = structuredClone(value);
  for (const path of paths) out = strip(out, path.split("."));
  return out;
}

function strip(value: unknown, parts: readonly string[]): unknown {
  if (parts.length === 0 || value === null || typeof value !== "object") return value;
  const [head, ...rest] = parts as [string, ...string[]];
  const record = value as Record<string, unknown>;
  const keys = head === "*" ? Object.keys(record) : [head];
  for (const key of keys) {
    if (!(key in record)) continue;
    if (rest.length === 0) {
      if (Array.isArray(record)) record[Number(key)] = undefined;
      else delete record[key];
    } else record[key] = strip(record[key], rest);
  }
  return value;
}

/**
 * The first path at which `a` and `b` differ, with both values, or `undefined` when they
 * are deeply equal. Good enough for messages; equality itself is `isDeepStrictEqual`.
 */
export function firstDifferencePath(a: unknown, b: unknown, path = "$"): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    for (const key of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
      const d = firstDifferencePath(ra[key], rb[key], `${path}.${key}`);
      if (d !== undefined) return d;
    }
  }
  return `${path}: ${render(a)} ≠ ${render(b)}`;
}

function render(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return `bytes(${v.byteLength})`;
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 80)}…` : s;
  } catch {
    return String(v);
  }
}

/** True when `a` and `b` are deeply equal. */
export function statesEqual(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}
