import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { MdevError } from "@mdevkit/core";

/**
 * Conditions a `package.json` `exports` entry is matched against: what Node's ESM loader
 * uses when the command imports a module.
 */
const IMPORT_CONDITIONS = new Set(["import", "node", "module-sync", "default"]);

/** The target of one `exports` value for an import, following Node's rules for plain entries. */
function exportTarget(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    for (const v of value) {
      const t = exportTarget(v);
      if (t !== undefined) return t;
    }
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  // Object order decides: the first condition Node's loader has wins.
  for (const [key, v] of Object.entries(value)) {
    if (IMPORT_CONDITIONS.has(key)) return exportTarget(v);
  }
  return undefined;
}

/** The `exports` entry for `subpath` (`"."` or `"./x"`), or undefined when there is none. */
function exportsEntry(exports: unknown, subpath: string): string | undefined {
  const keyed =
    typeof exports === "object" &&
    exports !== null &&
    !Array.isArray(exports) &&
    Object.keys(exports).some((k) => k.startsWith("."));
  if (!keyed) return subpath === "." ? exportTarget(exports) : undefined;
  return exportTarget((exports as Record<string, unknown>)[subpath]);
}

/**
 * The module file a package directory's `subpath` names, as Node would import it:
 * `exports` first, else `main` (or `index.js`) for the package itself.
 * @throws MdevError EINVAL (no package.json, no entry for import), ENOENT (entry missing).
 */
export function packageEntry(dir: string, spec: string, subpath = "."): string {
  const pj = join(dir, "package.json");
  let pkg: { exports?: unknown; main?: unknown };
  try {
    pkg = JSON.parse(readFileSync(pj, "utf8")) as typeof pkg;
  } catch (err) {
    throw new MdevError(
      "EINVAL",
      existsSync(pj)
        ? `cannot load plugin module ${spec}: ${pj} is not valid JSON`
        : `cannot load plugin module ${spec}: ${dir} is a directory without package.json; give the plugin's module file or its package directory`,
      { cause: err },
    );
  }
  let target: string | undefined;
  if (pkg.exports !== undefined) {
    target = exportsEntry(pkg.exports, subpath);
    if (target === undefined) {
      throw new MdevError(
        "EINVAL",
        `cannot load plugin module ${spec}: the "exports" of ${pj} have no "${subpath}" entry for import`,
      );
    }
  } else if (subpath === ".") {
    target = typeof pkg.main === "string" ? pkg.main : "index.js";
  } else target = subpath;
  const file = resolve(dir, target);
  if (!existsSync(file)) {
    throw new MdevError(
      "ENOENT",
      `cannot load plugin module ${spec}: its entry ${file} does not exist (is the package built?)`,
    );
  }
  return file;
}

/**
 * The directory of package `name` as Node finds it from `from`: the first
 * `node_modules/<name>` holding a package.json in `from` or a directory above it.
 */
export function findPackageDir(name: string, from: string): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The directory of the package `cwd` is in when that package is `name` (the nearest
 * package.json names it): Node lets a package import itself by name, and a vendor runs
 * the command from the plugin's own folder.
 */
function selfPackageDir(name: string, cwd: string): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      try {
        return (JSON.parse(readFileSync(pj, "utf8")) as { name?: unknown }).name === name
          ? dir
          : undefined;
      } catch {
        return undefined;
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** `@scope/name/sub` or `name/sub` split into the package name and `./sub` (or `.`). */
function splitPackageSpec(spec: string): { name: string; subpath: string } | undefined {
  const m = /^((?:@[^/@\s]+\/)?[^/@.\s][^/\s]*)(\/.*)?$/.exec(spec);
  if (!m) return undefined;
  return { name: m[1] as string, subpath: m[2] === undefined ? "." : `.${m[2]}` };
}

/**
 * The module file `--plugin SPEC` loads:
 * - a path (starting `.` or `/`, absolute, or naming something that exists under `cwd`):
 *   a module file as it is, or a package directory through its package.json;
 * - otherwise a package name (optionally with a subpath): the package `cwd` is in if it
 *   has that name, else the first `node_modules/<name>` from `cwd` upwards, as a
 *   project's own imports would find it.
 * @throws MdevError ENOENT (nothing there, package not installed or not built), EINVAL
 *   (a directory that is not a package, or a package without an entry to import).
 */
export function resolvePluginModule(spec: string, cwd: string): string {
  const path = resolve(cwd, spec);
  const isPath = spec.startsWith(".") || isAbsolute(spec) || existsSync(path);
  if (isPath) {
    if (!existsSync(path)) {
      throw new MdevError(
        "ENOENT",
        `cannot load plugin module ${spec}: no such file or directory (${path})`,
      );
    }
    return statSync(path).isDirectory() ? packageEntry(path, spec) : path;
  }
  const parts = splitPackageSpec(spec);
  if (parts === undefined) {
    throw new MdevError(
      "EINVAL",
      `cannot load plugin module ${spec}: neither an existing path nor a package name`,
    );
  }
  const dir = selfPackageDir(parts.name, cwd) ?? findPackageDir(parts.name, cwd);
  if (dir === undefined) {
    throw new MdevError(
      "ENOENT",
      `cannot load plugin module ${spec}: package ${parts.name} is not installed in node_modules of ${cwd} or a folder above it`,
    );
  }
  return packageEntry(dir, spec, parts.subpath);
}
