// Imports nothing but Node's own modules: it serves the entry point before the CLI's
// modules load, which is what needs the descriptors.
import { readFileSync } from "node:fs";

/**
 * Descriptors Node's ESM loader needs to load the CLI: it opens the modules' files
 * concurrently, and at 150 loading still failed where 160 loaded (2026-12-04).
 */
export const OPEN_FILES_TO_LOAD = 200;

/** Open-file limits (RLIMIT_NOFILE); Infinity for unlimited. */
export interface OpenFileLimit {
  readonly soft: number;
  readonly hard: number;
}

/**
 * This process's open-file limits, from `/proc/self/limits`; undefined where that file is
 * missing (not Linux) or unreadable. Node has already raised the soft limit to the hard one
 * at start, so only the hard limit can stop the CLI.
 */
export function openFileLimit(limits = "/proc/self/limits"): OpenFileLimit | undefined {
  let text: string;
  try {
    text = readFileSync(limits, "utf8");
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  if (m === null) return undefined;
  const value = (s: string | undefined) =>
    s === "unlimited" ? Number.POSITIVE_INFINITY : Number(s);
  return { soft: value(m[1]), hard: value(m[2]) };
}

/**
 * What to tell the user when loading the CLI failed with `err`, if the open-file limit
 * explains it: EMFILE itself, or, under a limit too low to load, a module "not found"
 * because its file could not be opened (Node's loader reports it so).
 */
export function openFileLimitProblem(
  err: unknown,
  limit: OpenFileLimit | undefined,
): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  const tooFew = limit !== undefined && limit.soft < OPEN_FILES_TO_LOAD;
  if (code !== "EMFILE" && !(tooFew && code === "ERR_MODULE_NOT_FOUND")) return undefined;
  const what =
    limit === undefined ? "" : ` (open files limit ${limit.soft}, hard limit ${limit.hard})`;
  return `EMFILE: too many open files to load mdevkit's modules${what}; it needs about ${OPEN_FILES_TO_LOAD}: raise the limit (ulimit -n ${OPEN_FILES_TO_LOAD}) and run it again`;
}
