import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** The monorepo a plugin is generated into. */
export interface RepoRoot {
  /** Absolute directory of the root package.json. */
  readonly dir: string;
  /** Its `workspaces` globs, e.g. `["packages/*", "plugins/*", "test/*"]`. */
  readonly workspaces: readonly string[];
}

function workspacesOf(packageJson: string): readonly string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(packageJson, "utf8"));
  } catch {
    // An unreadable package.json on the way up is not the root; keep walking.
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const ws = (parsed as { workspaces?: unknown }).workspaces;
  if (Array.isArray(ws)) return ws.filter((w): w is string => typeof w === "string");
  // npm also accepts { packages: [...] } (the yarn form).
  if (typeof ws === "object" && ws !== null) {
    const pkgs = (ws as { packages?: unknown }).packages;
    if (Array.isArray(pkgs)) return pkgs.filter((w): w is string => typeof w === "string");
  }
  return undefined;
}

/**
 * The nearest directory at or above `start` whose package.json declares `workspaces`,
 * or `undefined` when there is none up to the filesystem root.
 */
export function findRepoRoot(start: string): RepoRoot | undefined {
  let dir = resolve(start);
  for (;;) {
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      const workspaces = workspacesOf(pj);
      if (workspaces !== undefined) return { dir, workspaces };
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * Whether a package directly inside `folder` (relative to the root, `/`-separated) is a
 * workspace: some glob is `folder/*`. Only that form is understood, which is the form
 * this repository uses; anything else answers false and the caller says so.
 */
export function isWorkspaceFolder(root: RepoRoot, folder: string): boolean {
  return root.workspaces.some((w) => w.replace(/\/+$/, "") === `${folder}/*`);
}
