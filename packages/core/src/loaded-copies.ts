import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { ENGINE_VERSION } from "./version.js";

/** One copy of `@mdevkit/core` loaded in this process. */
export interface CoreCopy {
  /** The package's directory (the one holding its package.json). */
  readonly dir: string;
  /** Its {@link ENGINE_VERSION}. */
  readonly version: string;
}

// Shared by every copy through the global symbol registry: a plugin package that brings
// its own @mdevkit/core runs a second engine beside the host's (other classes, DI tokens
// and registries), and the host can only warn about it if each copy says it is there.
const COPIES = Symbol.for("mdevkit.core.copies");
const shared = globalThis as { [COPIES]?: CoreCopy[] };
shared[COPIES] ??= [];
const copies: CoreCopy[] = shared[COPIES];

/** This copy of `@mdevkit/core`: the one a caller imported. */
export const THIS_CORE_COPY: CoreCopy = Object.freeze({
  // src/ and dist/ both sit right under the package directory.
  dir: dirname(dirname(fileURLToPath(import.meta.url))),
  version: ENGINE_VERSION,
});
copies.push(THIS_CORE_COPY);

/**
 * Every copy of `@mdevkit/core` loaded in this process so far, in load order, this one
 * included. More than one means some module (typically a plugin installed with its own
 * `node_modules`) runs its own engine; copies older than this function do not register.
 */
export function loadedCoreCopies(): readonly CoreCopy[] {
  return [...copies];
}
