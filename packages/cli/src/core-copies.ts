import { readFileSync, realpathSync } from "node:fs";
import { dirname } from "node:path";
import { type CoreCopy, loadedCoreCopies, MdevError, THIS_CORE_COPY } from "@mdevkit/core";
import { findPackageDir } from "./plugin-module.js";

/** The real path of `dir` (symlinks followed, as Node's loader does), or `dir` itself. */
function real(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}

/** The version in `dir/package.json`, or `"unknown"`. */
function versionAt(dir: string): string {
  try {
    const { version } = JSON.parse(readFileSync(`${dir}/package.json`, "utf8")) as {
      version?: unknown;
    };
    return typeof version === "string" ? version : "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * Whether two versions of core can stand in for each other: semver's caret rule (same
 * major; in 0.x, same minor).
 */
function sameLine(a: string, b: string): boolean {
  const pa = /^(\d+)\.(\d+)\./.exec(a);
  const pb = /^(\d+)\.(\d+)\./.exec(b);
  if (!pa || !pb) return false;
  return pa[1] === pb[1] && (pa[1] !== "0" || pa[2] === pb[2]);
}

/**
 * Copies of `@mdevkit/core` other than the command's that plugin module `file` brought:
 * those that registered while it loaded (`before`: how many had registered before), and
 * the one its own `node_modules` resolves to, which copies older than the registry do not
 * announce.
 */
export function otherCoreCopies(file: string, before: number): CoreCopy[] {
  const mine = real(THIS_CORE_COPY.dir);
  const found = new Map<string, CoreCopy>();
  for (const copy of loadedCoreCopies().slice(before)) {
    const dir = real(copy.dir);
    if (dir !== mine) found.set(dir, { dir, version: copy.version });
  }
  const resolved = findPackageDir("@mdevkit/core", dirname(file));
  if (resolved !== undefined) {
    const dir = real(resolved);
    if (dir !== mine && !found.has(dir)) found.set(dir, { dir, version: versionAt(dir) });
  }
  return [...found.values()];
}

/**
 * Says what a plugin module's own `@mdevkit/core` means: a second engine in the process
 * (its own classes, DI tokens and registries) — a warning when its version is of the
 * command's line, a refusal when it is not.
 * @returns the warning line, or undefined when the plugin shares the command's core.
 * @throws MdevError EINVAL when a copy's version is incompatible with the command's.
 */
export function checkCoreCopies(spec: string, copies: readonly CoreCopy[]): string | undefined {
  if (copies.length === 0) return undefined;
  const ours = `${THIS_CORE_COPY.version} at ${THIS_CORE_COPY.dir}`;
  const theirs = copies.map((c) => `${c.version} at ${c.dir}`).join(", ");
  const bad = copies.find((c) => !sameLine(c.version, THIS_CORE_COPY.version));
  if (bad !== undefined) {
    throw new MdevError(
      "EINVAL",
      `cannot load plugin module ${spec}: it loads @mdevkit/core ${bad.version} from ${bad.dir}, incompatible with this command's ${ours}; build the plugin against @mdevkit/core ${THIS_CORE_COPY.version}`,
    );
  }
  return `warning: plugin module ${spec} loads its own @mdevkit/core (${theirs}) beside this command's (${ours}): two engines in one process; install the plugin where it resolves the command's @mdevkit/core (its peer dependency)`;
}
