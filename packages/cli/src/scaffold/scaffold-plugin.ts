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

/** What {@link scaffoldPlugin} needs. */
export interface ScaffoldOptions {
  /** Plugin name, validated by {@link pluginNames}. */
  readonly name: string;
  /** Folder the plugin directory is created in (created if missing). */
  readonly pluginsDir: string;
  /** Monorepo root: the generated configs extend its tsconfig.base.json and vitest.shared.js. */
  readonly repoRoot: string;
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

/**
 * Creates `pluginsDir/NAME` from the template. Refuses a bad name (EINVAL) and an
 * existing directory (EEXIST) before writing anything; if writing fails half way, the
 * new directory is removed so a retry starts clean.
 */
export function scaffoldPlugin(options: ScaffoldOptions): ScaffoldResult {
  const names = pluginNames(options.name);
  const pluginsDir = resolve(options.pluginsDir);
  const dir = join(pluginsDir, names.name);
  const templateDir = options.templateDir ?? PLUGIN_TEMPLATE_DIR;
  let templateFiles: string[];
  try {
    templateFiles = listFiles(templateDir).sort();
  } catch (err) {
    throw new MdevError("ENOENT", `plugin template not found at ${templateDir}`, { cause: err });
  }
  if (existsSync(pluginsDir) && !statSync(pluginsDir).isDirectory()) {
    throw new MdevError("EEXIST", `${pluginsDir} exists and is not a directory`);
  }
  mkdirSync(pluginsDir, { recursive: true });
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
  const rootRelative = relative(dir, resolve(options.repoRoot)).split(sep).join("/") || ".";
  try {
    for (const rel of templateFiles) {
      const text = readFileSync(join(templateDir, rel), "utf8");
      const out = join(dir, rel);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, fillPlaceholders(text, names, rootRelative));
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { names, dir, files: templateFiles };
}
