import { spawnSync } from "node:child_process";
import { relative, resolve, sep } from "node:path";
import { MdevError } from "@mdevkit/core";
import { findRepoRoot, isWorkspaceFolder, scaffoldPlugin } from "../scaffold/index.js";

/** Options of `mdevkit new-plugin`. */
export interface NewPluginOptions {
  /** Folder to create the plugin in; `<repo root>/plugins` by default. */
  readonly dir?: string;
  /** Run `npm install` at the repository root afterwards. */
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
  /** Whether the root's `workspaces` cover the new directory (else npm will not link it). */
  readonly isWorkspace: boolean;
}

/**
 * `mdevkit new-plugin NAME`: scaffolds a vendor plugin package that builds and passes the
 * conformance suite as generated. The root is the nearest package.json with `workspaces`
 * above `--dir` (or the current directory); the generated configs extend its
 * tsconfig.base.json and vitest.shared.js.
 * @throws MdevError EINVAL (bad name), EEXIST (directory exists), ENOENT (no monorepo
 *   root), EIO (`--install` failed).
 */
export async function newPluginCommand(
  name: string,
  options: NewPluginOptions = {},
): Promise<NewPluginResult> {
  const cwd = options.cwd ?? process.cwd();
  const dirOption = options.dir === undefined ? undefined : resolve(cwd, options.dir);
  const root = (dirOption === undefined ? undefined : findRepoRoot(dirOption)) ?? findRepoRoot(cwd);
  if (root === undefined) {
    throw new MdevError(
      "ENOENT",
      `no monorepo root (a package.json with "workspaces") above ${dirOption ?? cwd}; run inside the mdevkit repository`,
    );
  }
  const pluginsDir = dirOption ?? resolve(root.dir, "plugins");
  const result = scaffoldPlugin({ name, pluginsDir, repoRoot: root.dir });
  const folder = relative(root.dir, pluginsDir).split(sep).join("/");
  const isWorkspace = !folder.startsWith("..") && isWorkspaceFolder(root, folder);
  const shown = relative(cwd, result.dir) || ".";
  const filter = `npx turbo run build test --filter=${result.names.packageName}`;
  const out = process.stdout;
  out.write(`created ${shown}: ${result.names.packageName}, ${result.files.length} files\n`);
  if (!isWorkspace) {
    out.write(
      `note: ${folder || "."}/* is not in ${root.dir}/package.json "workspaces"; add it, or npm will not link the plugin\n`,
    );
  }
  if (options.install) {
    out.write(`running npm install in ${root.dir}\n`);
    const npm = spawnSync("npm", ["install"], { cwd: root.dir, stdio: "inherit" });
    if (npm.status !== 0) {
      throw new MdevError(
        "EIO",
        `npm install failed (${npm.error?.message ?? `exit ${npm.status}`}); the plugin is in place, run it again by hand`,
      );
    }
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
  };
}
