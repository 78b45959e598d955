import { setFlagsFromString } from "node:v8";

/**
 * Sets V8's `flag` for what the process compiles and allocates from now on, unless one of
 * the user's flags (node's own, or `NODE_OPTIONS`) matches `chosen`: what the user chose
 * stands. Returns whether it was set.
 */
export function setV8FlagUnlessChosen(
  flag: string,
  chosen: RegExp,
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): boolean {
  const userFlags = [...execArgv, ...(nodeOptions ?? "").split(/\s+/)];
  if (userFlags.some((f) => chosen.test(f))) return false;
  setFlagsFromString(flag);
  return true;
}
