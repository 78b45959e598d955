import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { MdevError } from "@mdevkit/core";
import { type PluginNames, pluginNames } from "./plugin-name.js";

/**
 * The plugin template: real files with `__PLUGIN_NAME__`, `__PascalName__` and
 * `__camelName__` placeholders, laid out as `<root>/plugins/NAME` (configs reach the root
 * as `"../../`). Same depth from src/scaffold and dist/scaffold, so tests (on sources) and
 * the CLI (built) find the same directory.
 */
export const PLUGIN_TEMPLATE_DIR: string = fileURLToPath(
  new URL("../../templates/plugin/", import.meta.url),
);

/**
 * Files that replace the template's when the plugin lives outside a monorepo: configs
 * that extend `@mdevkit/conformance`'s presets instead of the root's files. `gitignore`
 * is written as `.gitignore` (npm would drop a dotfile from the CLI's own package).
 */
export const STANDALONE_TEMPLATE_DIR: string = fileURLToPath(
  new URL("../../templates/plugin-standalone/", import.meta.url),
);

/**
 * Versions of the tools a standalone plugin installs from the registry: the ones this
 * repository builds and tests with (a test keeps them equal to the root package.json's).
 */
export const STANDALONE_TOOL_VERSIONS: Readonly<Record<string, string>> = {
  "@types/node": "^20.19.0",
  "reflect-metadata": "^0.2.2",
  typescript: "~5.9.3",
  vitest: "~4.1.12",
};

/** How a standalone plugin gets `@mdevkit/core` and `@mdevkit/conformance`. */
export interface StandaloneDependencies {
  /** npm spec of `@mdevkit/core`: a version range, or `file:` to a packed tarball. */
  readonly core: string;
  /** npm spec of `@mdevkit/conformance`, likewise. */
  readonly conformance: string;
}

/** What {@link scaffoldPlugin} needs. */
export interface ScaffoldOptions {
  /** Plugin name, validated by {@link pluginNames}. */
  readonly name: string;
  /** Folder the plugin directory `NAME` is created in (created if missing). */
  readonly pluginsDir?: string;
  /** The plugin directory itself, instead of `pluginsDir/NAME` (must not exist, or be empty). */
  readonly dir?: string;
  /**
   * Monorepo root: the generated configs extend its tsconfig.base.json and
   * vitest.shared.js. Required unless {@link standalone}.
   */
  readonly repoRoot?: string;
  /**
   * A package that lives on its own, outside any monorepo: configs from
   * `@mdevkit/conformance`'s presets, and these dependencies.
   */
  readonly standalone?: StandaloneDependencies;
  /** Template directory; {@link PLUGIN_TEMPLATE_DIR} by default. */
  readonly templateDir?: string;
}

/** What {@link scaffoldPlugin} created. */
export interface ScaffoldResult {
  readonly names: PluginNames;
  /** Absolute path of the new plugin directory. */
  readonly dir: string;
  /** Files written, relative to {@link dir}, `/`-separated, sorted. */
  readonly files: readonly string[];
}

function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) return listFiles(join(dir, entry.name), rel);
    return entry.isFile() ? [rel] : [];
  });
}

/**
 * Replaces every placeholder of the template in `text`, and points the template's
 * root-relative paths (a string starting `"../../`) at `rootRelative` instead. The paths
 * stay real in the template, rather than a placeholder, so the template itself is valid
 * for Biome's import sorting exactly as the generated file is.
 */
export function fillPlaceholders(text: string, names: PluginNames, rootRelative: string): string {
  return text
    .replaceAll("__PLUGIN_NAME__", names.name)
    .replaceAll("__PascalName__", names.pascal)
    .replaceAll("__camelName__", names.camel)
    .replaceAll('"../../', `"${rootRelative}/`);
}

/** The package.json of a standalone plugin: the template's, with installable dependencies. */
function standalonePackageJson(text: string, deps: StandaloneDependencies): string {
  const pkg = JSON.parse(text) as Record<string, unknown> & {
    devDependencies?: Record<string, string>;
  };
  const devDependencies: Record<string, string> = {
    ...pkg.devDependencies,
    ...STANDALONE_TOOL_VERSIONS,
    "@mdevkit/conformance": deps.conformance,
    "@mdevkit/core": deps.core,
  };
  pkg.devDependencies = Object.fromEntries(
    Object.entries(devDependencies).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/** Creates the plugin directory; EEXIST unless it is new (or an empty one given as `dir`). */
function makePluginDir(dir: string, exact: boolean): void {
  const parent = dirname(dir);
  if (existsSync(parent) && !statSync(parent).isDirectory()) {
    throw new MdevError("EEXIST", `${parent} exists and is not a directory`);
  }
  mkdirSync(parent, { recursive: true });
  if (exact && existsSync(dir) && statSync(dir).isDirectory() && readdirSync(dir).length === 0) {
    return;
  }
  try {
    // Not recursive: fails with EEXIST if the directory appeared, even between two runs.
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new MdevError(
        "EEXIST",
        `${dir} already exists; choose another name or remove it first`,
      );
    }
    throw err;
  }
}

/**
 * Creates `pluginsDir/NAME` (or `dir`) from the template. Refuses a bad name (EINVAL)
 * and an existing directory (EEXIST) before writing anything; if writing fails half
 * way, what was written is removed so a retry starts clean.
 */
export function scaffoldPlugin(options: ScaffoldOptions): ScaffoldResult {
  const names = pluginNames(options.name);
  if (options.dir === undefined && options.pluginsDir === undefined) {
    throw new MdevError("EINVAL", "scaffoldPlugin needs pluginsDir or dir");
  }
  if (options.standalone === undefined && options.repoRoot === undefined) {
    throw new MdevError("EINVAL", "scaffoldPlugin needs repoRoot unless standalone");
  }
  const dir =
    options.dir !== undefined
      ? resolve(options.dir)
      : join(resolve(options.pluginsDir as string), names.name);
  const templateDir = options.templateDir ?? PLUGIN_TEMPLATE_DIR;
  let templateFiles: string[];
  try {
    templateFiles = listFiles(templateDir).sort();
  } catch (err) {
    throw new MdevError("ENOENT", `plugin template not found at ${templateDir}`, { cause: err });
  }
  const overrides = new Map<string, string>();
  if (options.standalone !== undefined) {
    for (const rel of listFiles(STANDALONE_TEMPLATE_DIR)) {
      const out = rel === "gitignore" ? ".gitignore" : rel;
      overrides.set(out, readFileSync(join(STANDALONE_TEMPLATE_DIR, rel), "utf8"));
    }
  }
  const files = [...new Set([...templateFiles, ...overrides.keys()])].sort();
  const existed = existsSync(dir);
  makePluginDir(dir, options.dir !== undefined);
  const rootRelative =
    options.repoRoot === undefined
      ? "."
      : relative(dir, resolve(options.repoRoot)).split(sep).join("/") || ".";
  try {
    for (const rel of files) {
      let text = overrides.get(rel) ?? readFileSync(join(templateDir, rel), "utf8");
      if (rel === "package.json" && options.standalone !== undefined) {
        text = standalonePackageJson(text, options.standalone);
      }
      const out = join(dir, rel);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, fillPlaceholders(text, names, rootRelative));
    }
  } catch (err) {
    if (existed) {
      for (const entry of readdirSync(dir))
        rmSync(join(dir, entry), { recursive: true, force: true });
    } else rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { names, dir, files };
}
