import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { ENGINE_VERSION, MdevError } from "@mdevkit/core";
import {
  applyEdits,
  type FileEdit,
  findRepoRoot,
  hasPluginRegistries,
  isWorkspaceFolder,
  pluginNames,
  pluginRegistrationEdits,
  type StandaloneDependencies,
  scaffoldPlugin,
} from "../scaffold/index.js";

/** Options of `mdevkit new-plugin`. */
export interface NewPluginOptions {
  /** Folder to create the plugin in; `<repo root>/plugins` by default. */
  readonly dir?: string;
  /**
   * Create a standalone package in this directory instead, outside any monorepo: it
   * installs `@mdevkit/core` and `@mdevkit/conformance` from packed tarballs (both
   * needed), or from a registry with {@link fromRegistry}.
   */
  readonly out?: string;
  /** With {@link out}: depend on this packed `@mdevkit/core` (`npm pack`) as `file:`. */
  readonly coreTarball?: string;
  /** With {@link out}: depend on this packed `@mdevkit/conformance` as `file:`. */
  readonly conformanceTarball?: string;
  /** With {@link out}: the folder holding both packed tarballs (`mdevkit-core-*.tgz`, `mdevkit-conformance-*.tgz`). */
  readonly fromPacks?: string;
  /**
   * With {@link out}: depend on `@mdevkit/core` and `@mdevkit/conformance` by version,
   * from the npm registry npm is configured with (one that has them: they are not on the
   * public registry). Without it, `--out` needs both tarballs.
   */
  readonly fromRegistry?: boolean;
  /**
   * In the mdevkit repository, add the plugin to the cross-plugin matrix, the CLI's
   * built-in plugins and the fuzz suite's plugins; true by default.
   */
  readonly register?: boolean;
  /** Run `npm install` afterwards (at the repository root, or in {@link out}). */
  readonly install?: boolean;
  /** Where relative paths start and the root search begins; `process.cwd()` by default. */
  readonly cwd?: string;
}

/** What `mdevkit new-plugin` did, for callers that want more than the printed lines. */
export interface NewPluginResult {
  /** Absolute plugin directory. */
  readonly dir: string;
  /** npm package name. */
  readonly packageName: string;
  /** Files written, relative to {@link dir}. */
  readonly files: readonly string[];
  /** Whether the root's `workspaces` cover the new directory (else npm will not link it); false when standalone. */
  readonly isWorkspace: boolean;
  /** Whether it is a standalone package ({@link NewPluginOptions.out}). */
  readonly standalone: boolean;
  /** Repository files edited to register the plugin, relative to the root. */
  readonly registered: readonly string[];
}

/** The one file in `dir` named like `prefix-<version>.tgz` (what `npm pack` writes). */
function findPack(dir: string, prefix: string): string {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (err) {
    throw new MdevError("ENOENT", `--from-packs ${dir} is not a readable folder`, { cause: err });
  }
  const found = entries.filter((f) => f.startsWith(`${prefix}-`) && f.endsWith(".tgz"));
  if (found.length !== 1) {
    throw new MdevError(
      found.length === 0 ? "ENOENT" : "EINVAL",
      `--from-packs ${dir} holds ${found.length} ${prefix}-*.tgz files, expected one (run npm pack)`,
    );
  }
  return join(dir, found[0] as string);
}

/** An npm `file:` spec for `tarball`, relative to the package directory `from`. */
function fileSpec(from: string, tarball: string, flag: string): string {
  if (!existsSync(tarball) || !statSync(tarball).isFile()) {
    throw new MdevError("ENOENT", `${flag} ${tarball} is not a file`);
  }
  if (!tarball.endsWith(".tgz")) {
    throw new MdevError("EINVAL", `${flag} ${tarball} is not an npm pack tarball (.tgz)`);
  }
  const rel = relative(from, tarball).split(sep).join("/");
  return `file:${rel.startsWith(".") ? rel : `./${rel}`}`;
}

/** How to get the tarballs `--out` needs, for its refusals. */
const PACK_HINT =
  "@mdevkit/core and @mdevkit/conformance are not published on the npm registry: in a built mdevkit checkout run `npm pack -w @mdevkit/core -w @mdevkit/conformance --pack-destination DIR` and pass --from-packs DIR (or --core-tarball FILE --conformance-tarball FILE), or --from-registry for a registry of your own that has them";

/**
 * The standalone package's dependency specs from the tarball options: both tarballs, or
 * `--from-registry`. One tarball alone, or none, would make `npm install` look the other
 * package up on the public registry, which does not have it.
 * @throws MdevError EINVAL (a tarball missing, or tarballs with --from-registry), ENOENT
 *   (a tarball or the packs folder not found).
 */
function standaloneDependencies(
  dir: string,
  cwd: string,
  options: NewPluginOptions,
): StandaloneDependencies {
  const tarballOptions =
    options.fromPacks !== undefined ||
    options.coreTarball !== undefined ||
    options.conformanceTarball !== undefined;
  if (options.fromRegistry) {
    if (tarballOptions) {
      throw new MdevError(
        "EINVAL",
        "--from-registry and the tarball options (--from-packs, --core-tarball, --conformance-tarball) exclude each other",
      );
    }
    return { core: `^${ENGINE_VERSION}`, conformance: `^${ENGINE_VERSION}` };
  }
  const packs = options.fromPacks === undefined ? undefined : resolve(cwd, options.fromPacks);
  const core =
    options.coreTarball !== undefined
      ? resolve(cwd, options.coreTarball)
      : packs && findPack(packs, "mdevkit-core");
  const conformance =
    options.conformanceTarball !== undefined
      ? resolve(cwd, options.conformanceTarball)
      : packs && findPack(packs, "mdevkit-conformance");
  // A tarball that was given but is not there is the first thing to say.
  const coreSpec = core === undefined ? undefined : fileSpec(dir, core, "--core-tarball");
  const conformanceSpec =
    conformance === undefined ? undefined : fileSpec(dir, conformance, "--conformance-tarball");
  if (coreSpec === undefined || conformanceSpec === undefined) {
    const missing =
      core === undefined && conformance === undefined
        ? "no @mdevkit/core or @mdevkit/conformance tarball"
        : `no ${core === undefined ? "@mdevkit/core (--core-tarball)" : "@mdevkit/conformance (--conformance-tarball)"} tarball`;
    throw new MdevError(
      "EINVAL",
      `--out needs both packed tarballs, and got ${missing}: ${PACK_HINT}`,
    );
  }
  return { core: coreSpec, conformance: conformanceSpec };
}

function npmInstall(cwd: string): void {
  process.stdout.write(`running npm install in ${cwd}\n`);
  const npm = spawnSync("npm", ["install"], { cwd, stdio: "inherit" });
  if (npm.status !== 0) {
    throw new MdevError(
      "EIO",
      `npm install failed (${npm.error?.message ?? `exit ${npm.status}`}); the plugin is in place, run it again by hand`,
    );
  }
}

/** `mdevkit new-plugin NAME --out DIR`: a standalone package. */
function newStandalonePlugin(name: string, options: NewPluginOptions): NewPluginResult {
  const cwd = options.cwd ?? process.cwd();
  if (options.dir !== undefined) {
    throw new MdevError(
      "EINVAL",
      "--dir and --out exclude each other: --out makes a standalone package",
    );
  }
  const dir = resolve(cwd, options.out as string);
  pluginNames(name); // a bad name is refused before the tarballs are looked for
  const standalone = standaloneDependencies(dir, cwd, options);
  const result = scaffoldPlugin({ name, dir, standalone });
  const shown = relative(cwd, result.dir) || ".";
  const out = process.stdout;
  out.write(
    `created ${shown}: ${result.names.packageName}, ${result.files.length} files (standalone)\n`,
  );
  out.write(
    `  @mdevkit/core ${standalone.core}\n  @mdevkit/conformance ${standalone.conformance}\n`,
  );
  if (options.install) npmInstall(result.dir);
  out.write(
    `next:\n  cd ${shown}\n${options.install ? "" : "  npm install\n"}  npm run build && npm test\n`,
  );
  return {
    dir: result.dir,
    packageName: result.names.packageName,
    files: result.files,
    isWorkspace: false,
    standalone: true,
    registered: [],
  };
}

/**
 * `mdevkit new-plugin NAME`: scaffolds a vendor plugin package that builds and passes the
 * conformance suite as generated.
 *
 * In a monorepo, the root is the nearest package.json with `workspaces` above `--dir`
 * (or the current directory); the generated configs extend its tsconfig.base.json and
 * vitest.shared.js. In the mdevkit repository, a plugin created in a workspace folder is
 * also registered in the cross-plugin matrix (test/conformance), the CLI's built-in
 * plugins and the fuzz suite's plugins (test/fuzz), at the marker lines those files carry.
 *
 * With `--out DIR` it writes a standalone package instead, depending on `@mdevkit/core`
 * and `@mdevkit/conformance` as packed tarballs (`file:` paths; the packages are not on
 * the npm registry), or by version with `--from-registry`.
 * @throws MdevError EINVAL (bad name, option mix, tarballs missing), EEXIST (directory exists), ENOENT
 *   (no monorepo root, a tarball or a registry marker missing), EIO (`--install` failed).
 */
export async function newPluginCommand(
  name: string,
  options: NewPluginOptions = {},
): Promise<NewPluginResult> {
  if (options.out !== undefined) return newStandalonePlugin(name, options);
  if (
    options.coreTarball !== undefined ||
    options.conformanceTarball !== undefined ||
    options.fromPacks !== undefined ||
    options.fromRegistry
  ) {
    throw new MdevError(
      "EINVAL",
      "--core-tarball, --conformance-tarball, --from-packs and --from-registry only apply with --out (a standalone package)",
    );
  }
  const cwd = options.cwd ?? process.cwd();
  const dirOption = options.dir === undefined ? undefined : resolve(cwd, options.dir);
  const root = (dirOption === undefined ? undefined : findRepoRoot(dirOption)) ?? findRepoRoot(cwd);
  if (root === undefined) {
    throw new MdevError(
      "ENOENT",
      `no monorepo root (a package.json with "workspaces") above ${dirOption ?? cwd}; run inside the mdevkit repository, or use --out DIR for a standalone package`,
    );
  }
  const pluginsDir = dirOption ?? resolve(root.dir, "plugins");
  const folder = relative(root.dir, pluginsDir).split(sep).join("/");
  const isWorkspace = !folder.startsWith("..") && isWorkspaceFolder(root, folder);
  // Registration edits are computed first: a missing marker refuses before any file is made.
  const register = (options.register ?? true) && isWorkspace && hasPluginRegistries(root.dir);
  const edits: FileEdit[] = register ? pluginRegistrationEdits(root.dir, pluginNames(name)) : [];
  const result = scaffoldPlugin({ name, pluginsDir, repoRoot: root.dir });
  const registered = applyEdits(root.dir, edits);
  const shown = relative(cwd, result.dir) || ".";
  const filter = `npx turbo run build test --filter=${result.names.packageName}`;
  const out = process.stdout;
  out.write(`created ${shown}: ${result.names.packageName}, ${result.files.length} files\n`);
  if (registered.length > 0) out.write(`registered in ${registered.join(", ")}\n`);
  if (!isWorkspace) {
    out.write(
      `note: ${folder || "."}/* is not in ${root.dir}/package.json "workspaces"; add it, or npm will not link the plugin\n`,
    );
  }
  if (options.install) {
    npmInstall(root.dir);
    out.write(`next: ${filter}\n`);
  } else {
    out.write(
      `next (npm install is needed to link the new workspace; --install runs it):\n  npm install\n  ${filter}\n`,
    );
  }
  return {
    dir: result.dir,
    packageName: result.names.packageName,
    files: result.files,
    isWorkspace,
    standalone: false,
    registered,
  };
}
