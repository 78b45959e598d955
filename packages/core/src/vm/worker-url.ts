/**
 * URL of a compiled worker module next to `from` (an `import.meta.url`). Workers must be
 * JavaScript on Node 20; when the caller runs from TypeScript sources (vitest), the
 * compiled twin under `dist/` is used — turbo builds a package before testing it.
 */
export function workerUrl(name: string, from: string): URL {
  const url = new URL(`./${name}.js`, from);
  if (from.endsWith(".ts")) {
    url.pathname = url.pathname.replace(/\/src\/(?!.*\/src\/)/, "/dist/");
  }
  return url;
}
