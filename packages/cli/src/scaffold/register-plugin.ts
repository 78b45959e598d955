import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MdevError } from "@mdevkit/core";
import type { PluginNames } from "./plugin-name.js";

/**
 * The line above which `mdevkit new-plugin` adds an entry, in the cross-plugin matrix
 * (test/conformance/registry.ts), the CLI's built-in plugins (packages/cli/src/plugins.ts)
 * and the fuzz suite's plugins (test/fuzz/helpers/device-images.ts). Keep it on its own
 * line, indented like the entries.
 */
export const ENTRIES_MARKER = "// mdevkit new-plugin: entries above this line";

/** Files of the repository that list every plugin, relative to its root. */
export const REGISTRY_FILES = {
  matrix: "test/conformance/registry.ts",
  matrixPackage: "test/conformance/package.json",
  cli: "packages/cli/src/plugins.ts",
  cliPackage: "packages/cli/package.json",
  fuzz: "test/fuzz/helpers/device-images.ts",
  fuzzPackage: "test/fuzz/package.json",
} as const;

/** One file's new contents. */
export interface FileEdit {
  /** Path relative to the repository root. */
  readonly file: string;
  /** Whole new text (unchanged when the plugin was already there). */
  readonly text: string;
  /** Whether {@link text} differs from what is on disk. */
  readonly changed: boolean;
}

/** The module specifier of an import statement starting at line `i`, and its last line. */
function importAt(lines: readonly string[], i: number): { spec: string; end: number } | undefined {
  if (!lines[i]?.startsWith("import ")) return undefined;
  for (let end = i; end < lines.length; end++) {
    const m =
      /from\s+"([^"]+)";\s*$/.exec(lines[end] ?? "") ??
      /^import\s+"([^"]+)";/.exec(lines[end] ?? "");
    if (m) return { spec: m[1] as string, end };
  }
  return undefined;
}

/**
 * Where Biome's import sorting puts a bare package import: after `node:` modules and
 * other packages that sort before it, before relative paths. Plain code-unit order among
 * packages is what Biome does for the lowercase, digit and hyphen names plugins have.
 */
function sortsBefore(a: string, b: string): boolean {
  const rank = (s: string) => (s.startsWith("node:") ? 0 : s.startsWith(".") ? 2 : 1);
  return rank(a) !== rank(b) ? rank(a) < rank(b) : a < b;
}

/**
 * Adds `line` (an import of `spec`) to the file's leading imports where the sort puts it;
 * nothing when an import of `spec` already exists.
 */
export function insertImport(text: string, line: string, spec: string): string {
  const lines = text.split("\n");
  let at: number | undefined;
  let afterLast = 0;
  for (let i = 0; i < lines.length; ) {
    const imp = importAt(lines, i);
    if (imp === undefined) {
      // Comments and blank lines may sit between imports; code ends them.
      const l = lines[i]?.trim() ?? "";
      if (l === "" || l.startsWith("//") || l.startsWith("/*") || l.startsWith("*")) {
        i++;
        continue;
      }
      break;
    }
    if (imp.spec === spec) return text;
    if (at === undefined && sortsBefore(spec, imp.spec)) at = i;
    afterLast = imp.end + 1;
    i = imp.end + 1;
  }
  lines.splice(at ?? afterLast, 0, line);
  return lines.join("\n");
}

/**
 * Adds `entry` on its own line above {@link ENTRIES_MARKER}, indented like the marker;
 * nothing when the entry is already there.
 * @throws MdevError ENOENT when the file has no marker line.
 */
export function insertEntry(text: string, entry: string, file: string): string {
  const lines = text.split("\n");
  const at = lines.findIndex((l) => l.trim() === ENTRIES_MARKER);
  if (at < 0) {
    throw new MdevError(
      "ENOENT",
      `${file} has no "${ENTRIES_MARKER}" line; add it where new entries belong and run again`,
    );
  }
  if (lines.some((l) => l.trim() === entry.trim())) return text;
  const indent = /^\s*/.exec(lines[at] as string)?.[0] ?? "";
  lines.splice(at, 0, `${indent}${entry}`);
  return lines.join("\n");
}

/** `pkg.json` text with `name: "*"` added to its `field` (sorted), as npm would write it. */
export function addDependency(text: string, field: string, name: string, file: string): string {
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new MdevError("EINVAL", `${file} is not valid JSON`, { cause: err });
  }
  const deps = { ...((pkg[field] as Record<string, string> | undefined) ?? {}) };
  if (deps[name] !== undefined) return text;
  deps[name] = "*";
  pkg[field] = Object.fromEntries(
    Object.entries(deps).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/** Whether `root` is an mdevkit repository whose plugin lists this command maintains. */
export function hasPluginRegistries(root: string): boolean {
  return Object.values(REGISTRY_FILES).every((f) => existsSync(join(root, f)));
}

/**
 * The edits that register plugin `names` in the repository at `root`: its two imports
 * and an entry in the cross-plugin matrix and in the fuzz suite's plugins (whose
 * device-state loader the fuzz tests feed mutated images), its import and an entry in the
 * CLI's built-in plugins, and the package as a dependency of all three (so turbo builds
 * it first). Computed
 * without writing, so a missing marker refuses the command before anything is created.
 * @throws MdevError ENOENT (a file or marker missing), EINVAL (a package.json unreadable).
 */
export function pluginRegistrationEdits(root: string, names: PluginNames): FileEdit[] {
  const read = (file: string): string => {
    try {
      return readFileSync(join(root, file), "utf8");
    } catch (err) {
      throw new MdevError("ENOENT", `cannot read ${file} to register the plugin`, { cause: err });
    }
  };
  const pkg = names.packageName;
  const plugin = `${names.camel}Plugin`;
  const options = `${names.camel}ConformanceOptions`;
  // The conformance matrix and the fuzz suite both take the plugin and its suite options.
  const importPluginAndOptions = (text: string): string =>
    insertImport(
      insertImport(text, `import { ${plugin} } from "${pkg}";`, pkg),
      `import { ${options} } from "${pkg}/conformance";`,
      `${pkg}/conformance`,
    );
  const edits: [string, (text: string, file: string) => string][] = [
    [
      REGISTRY_FILES.matrix,
      (t, f) => {
        const key = /^[a-z][a-z0-9]*$/.test(names.name) ? names.name : `"${names.name}"`;
        return insertEntry(
          importPluginAndOptions(t),
          `${key}: { plugin: ${plugin}, options: ${options} },`,
          f,
        );
      },
    ],
    [REGISTRY_FILES.matrixPackage, (t, f) => addDependency(t, "devDependencies", pkg, f)],
    [
      REGISTRY_FILES.cli,
      (t, f) =>
        insertEntry(insertImport(t, `import { ${plugin} } from "${pkg}";`, pkg), `${plugin},`, f),
    ],
    [REGISTRY_FILES.cliPackage, (t, f) => addDependency(t, "dependencies", pkg, f)],
    [
      REGISTRY_FILES.fuzz,
      (t, f) =>
        insertEntry(
          importPluginAndOptions(t),
          `fuzzed("${names.name}", ${plugin}, ${options}),`,
          f,
        ),
    ],
    [REGISTRY_FILES.fuzzPackage, (t, f) => addDependency(t, "devDependencies", pkg, f)],
  ];
  return edits.map(([file, edit]) => {
    const before = read(file);
    const text = edit(before, file);
    return { file, text, changed: text !== before };
  });
}

/** Writes the {@link FileEdit}s that change something; returns the files written. */
export function applyEdits(root: string, edits: readonly FileEdit[]): string[] {
  const written: string[] = [];
  for (const e of edits) {
    if (!e.changed) continue;
    writeFileSync(join(root, e.file), e.text);
    written.push(e.file);
  }
  return written;
}
